# yaml.awk - a deliberately small YAML subset parser for busybox awk.
#
# It flattens a document into V[path] (scalar values) and T[path] ("seq"/"map")
# where a path is the dot-joined list of map keys and sequence indexes, e.g.
#   write_files.0.path   runcmd.2.1   public-keys.0
# ORD[1..NORD] keeps the first-seen order of scalar paths; TOP[1..NTOP] the top-level keys.
#
# Supported: block maps and sequences (including "- " at the same indent as its
# parent key, and "- key: v" maps inside sequences), plain / 'single' / "double"
# quoted scalars (escapes \n \t \" \\ \/), block scalars | |- |+ > >- >+ (indent
# auto-detected), one-line flow collections [a, "b", [c]] and {k: v}, comments,
# CRLF line ends, "---"/"..." document markers.
# Not supported: anchors/aliases/tags/merge keys, multi-line quoted or plain
# scalars (continuation lines are joined with a space), explicit block indent
# digits, multi-line flow collections, complex keys, multiple documents.
#
# The including program may define a function yaml_done() called from END.

function ltrim(s) { sub(/^[ \t]+/, "", s); return s }
function rtrim(s) { sub(/[ \t]+$/, "", s); return s }

function setv(p, v) {
  if (!(p in V)) ORD[++NORD] = p
  V[p] = v
}

# Decode one scalar token (already trimmed, no flow context).
function scalar(s,   c, out, i, ch, nx) {
  c = substr(s, 1, 1)
  if (c == "'") {
    out = ""
    for (i = 2; i <= length(s); i++) {
      ch = substr(s, i, 1)
      if (ch == "'") {
        if (substr(s, i + 1, 1) == "'") { out = out "'"; i++; continue }
        break
      }
      out = out ch
    }
    return out
  }
  if (c == "\"") {
    out = ""
    for (i = 2; i <= length(s); i++) {
      ch = substr(s, i, 1)
      if (ch == "\\") {
        nx = substr(s, i + 1, 1); i++
        if (nx == "n") out = out "\n"
        else if (nx == "t") out = out "\t"
        else if (nx == "r") out = out "\r"
        else if (nx == "0") out = out ""
        else out = out nx            # \" \\ \/ and anything else: the char itself
        continue
      }
      if (ch == "\"") break
      out = out ch
    }
    return out
  }
  # plain scalar: drop a trailing " # comment"
  sub(/[ \t]+#.*$/, "", s)
  s = rtrim(s)
  if (s == "~" || s == "null") s = ""
  return s
}

# ---- one-line flow collections: FS_ (text) and FP_ (position) are globals ----
function fskip() { while (FP_ <= length(FS_) && substr(FS_, FP_, 1) ~ /[ \t]/) FP_++ }
function fchar() { return substr(FS_, FP_, 1) }
function fquoted(   q, out, ch) {
  q = fchar(); FP_++; out = ""
  while (FP_ <= length(FS_)) {
    ch = substr(FS_, FP_, 1)
    if (q == "'" && ch == "'" && substr(FS_, FP_ + 1, 1) == "'") { out = out "'"; FP_ += 2; continue }
    if (q == "\"" && ch == "\\") { out = out ch substr(FS_, FP_ + 1, 1); FP_ += 2; continue }
    if (ch == q) { FP_++; break }
    out = out ch; FP_++
  }
  return scalar(q out q)
}
function fplain(stop,   out, ch) {
  out = ""
  while (FP_ <= length(FS_)) {
    ch = substr(FS_, FP_, 1)
    if (index(stop, ch)) break
    out = out ch; FP_++
  }
  return scalar(rtrim(out))
}
function fvalue(p,   c, i, k) {
  fskip(); c = fchar()
  if (c == "[") {
    FP_++; T[p] = "seq"; i = 0
    while (FP_ <= length(FS_)) {
      fskip(); c = fchar()
      if (c == "]") { FP_++; break }
      fvalue(join(p, i)); i++
      fskip(); c = fchar()
      if (c == ",") FP_++
      else if (c == "]") { FP_++; break }
      else break
    }
    NEXTIDX[p] = i
    return
  }
  if (c == "{") {
    FP_++; T[p] = "map"
    while (FP_ <= length(FS_)) {
      fskip(); c = fchar()
      if (c == "}") { FP_++; break }
      if (c == "\"" || c == "'") k = fquoted(); else k = fplain(":,}")
      fskip(); if (fchar() == ":") FP_++
      fvalue(join(p, k))
      fskip(); c = fchar()
      if (c == ",") FP_++
      else if (c == "}") { FP_++; break }
      else break
    }
    return
  }
  if (c == "\"" || c == "'") setv(p, fquoted())
  else setv(p, fplain(",]}"))
}

# A value that follows "key:" or "- " on the same line.
function value(p, v, col) {
  v = ltrim(v)
  if (v == "" || v ~ /^#/) return                 # container (or null); children follow
  if (v ~ /^[|>][-+0-9]*[ \t]*(#.*)?$/) {          # block scalar starts
    INBLOCK = 1; BPATH = p; BSTYLE = substr(v, 1, 1)
    BCHOMP = (v ~ /^.[0-9]*-/) ? "-" : ((v ~ /^.[0-9]*\+/) ? "+" : "")
    BPARENT = col; BINDENT = 0; BBUF = ""; BBLANK = ""; BN = 0
    return
  }
  if (v ~ /^[\[{]/) { FS_ = v; FP_ = 1; fvalue(p); return }
  if (p in V && T[p] == "") { setv(p, V[p] " " scalar(v)); return }   # crude continuation
  setv(p, scalar(v))
}

function endblock(   out) {
  out = BBUF
  if (BCHOMP == "+") out = out BBLANK
  else if (BCHOMP == "-") sub(/\n+$/, "", out)
  else { sub(/\n+$/, "", out); if (BN > 0) out = out "\n" }
  setv(BPATH, out)
  INBLOCK = 0
}

function push(col, kind, p) { D++; SIND[D] = col; SKIND[D] = kind; SPATH[D] = p }
function join(a, b) { return a == "" ? b : a "." b }

# One syntactic node starting at column col.
function node(col, text,   p, idx, rest, k, m, n) {
  if (text ~ /^-([ \t]|$)/) {                      # sequence item
    while (D > 0 && (SIND[D] > col || (SIND[D] == col && SKIND[D] == "item"))) D--
    p = SPATH[D]; T[p] = "seq"
    idx = NEXTIDX[p] + 0; NEXTIDX[p] = idx + 1
    p = join(p, idx)
    push(col, "item", p)
    rest = substr(text, 2)
    m = match(rest, /^[ \t]*/); n = RLENGTH
    rest = substr(rest, n + 1)
    if (rest == "") return
    node(col + 1 + n, rest)
    return
  }
  if (match(text, /^("[^"]*"|'[^']*'|[^ \t#'"\[{][^:#]*):([ \t]|$)/)) {   # mapping key
    k = substr(text, 1, RLENGTH)
    rest = substr(text, RLENGTH + 1)
    sub(/:[ \t]*$/, "", k); k = rtrim(k)
    if (k ~ /^["']/) k = scalar(k)
    while (D > 0 && SIND[D] >= col) D--
    if (D == 0) TOP[++NTOP] = k
    p = join(SPATH[D], k); T[SPATH[D]] = T[SPATH[D]] == "" ? "map" : T[SPATH[D]]
    push(col, "key", p)
    value(p, rest, col)
    return
  }
  # a bare scalar: the value of the innermost open node
  while (D > 0 && SIND[D] > col) D--
  value(SPATH[D], text, SIND[D])
}

BEGIN { D = 0; SIND[0] = -1; SKIND[0] = "root"; SPATH[0] = ""; NORD = 0; NTOP = 0; INBLOCK = 0 }

{
  line = $0
  sub(/\r$/, "", line)
  if (INBLOCK) {
    if (line ~ /^[ \t]*$/) { BBLANK = BBLANK "\n"; next }
    match(line, /^ */); ind = RLENGTH
    if (BINDENT == 0) { if (ind > BPARENT) BINDENT = ind; else endblock() }
    if (INBLOCK && ind >= BINDENT) {
      t = substr(line, BINDENT + 1)
      if (BSTYLE == ">" && BN > 0 && BBLANK == "" && t !~ /^[ \t]/ && LASTF !~ /^[ \t]/) {
        sub(/\n$/, "", BBUF); BBUF = BBUF " " t "\n"
      } else {
        if (BSTYLE == ">" && BBLANK != "") sub(/\n/, "", BBLANK)   # folded: one blank line = one newline
        BBUF = BBUF BBLANK t "\n"
      }
      LASTF = t; BBLANK = ""; BN++
      next
    }
    if (INBLOCK) endblock()
  }
  if (line ~ /^[ \t]*$/ || line ~ /^[ \t]*#/) next
  if (line ~ /^(---|\.\.\.)([ \t]|$)/) next
  match(line, /^ */); ind = RLENGTH
  node(ind, substr(line, ind + 1))
}

END {
  if (INBLOCK) endblock()
  yaml_done()
}

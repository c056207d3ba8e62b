# mime.awk - split a MIME multipart message (cloud-init user-data) into parts.
# usage: awk -v dir=OUTDIR -f mime.awk MESSAGE
# Writes each part body to OUTDIR/part-NNN and prints, per part:
#   OUTDIR/part-NNN <TAB> content-type <TAB> transfer-encoding <TAB> filename
# Handles folded headers, quoted/unquoted boundary, CRLF line ends, preamble
# and epilogue. Bodies are written line by line (each line ends with \n).
# Base64 decoding and nested multiparts are left to the caller.
function lc(s) { return tolower(s) }
function param(h, name,   re, v) {
  re = "[; \t]" name "=(\"[^\"]*\"|[^;\t ]*)"
  if (!match(h, re)) return ""
  v = substr(h, RSTART + 1, RLENGTH - 1); sub(/^[^=]*=/, "", v)
  gsub(/^"|"$/, "", v)
  return v
}
function header(line) {
  if (line ~ /^[ \t]/ && LASTH != "") { H[LASTH] = H[LASTH] " " line; return }
  if (!match(line, /^[^:]+:/)) return
  LASTH = lc(substr(line, 1, RLENGTH - 1))
  H[LASTH] = substr(line, RLENGTH + 1); sub(/^[ \t]+/, "", H[LASTH])
}
function newpart() {
  N++; FILE = sprintf("%s/part-%03d", dir, N); printf "" > FILE
  split("", H); LASTH = ""; state = "phdr"
}
function endpart(   t, e, f) {
  close(FILE)
  t = H["content-type"]; sub(/;.*/, "", t); gsub(/[ \t]/, "", t)
  e = lc(H["content-transfer-encoding"]); gsub(/[ \t]/, "", e)
  f = param(H["content-disposition"], "filename")
  print FILE "\t" lc(t) "\t" e "\t" f
}
BEGIN { state = "hdr"; N = 0; LASTH = "" }
{
  sub(/\r$/, "")
  line = $0; bl = line; sub(/[ \t]+$/, "", bl)
  if (state == "hdr") {
    if (line != "") { header(line); next }
    B = param(" " H["content-type"], "boundary")
    if (B == "") { print "mime.awk: no boundary" > "/dev/stderr"; exit 1 }
    state = "pre"; next
  }
  if (state == "end") next
  if (bl == "--" B "--") { if (state != "pre") endpart(); state = "end"; next }
  if (bl == "--" B) { if (state != "pre") endpart(); newpart(); next }
  if (state == "pre") next
  if (state == "phdr") {
    if (line != "") { header(line); next }
    state = "body"; next
  }
  print line >> FILE
}
END { if (state == "body" || state == "phdr") endpart() }

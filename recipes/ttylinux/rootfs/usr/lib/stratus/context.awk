# context.awk - read an OpenNebula context.sh without a shell: nothing in it runs.
# usage: awk -v dir=OUTDIR -f context.awk context.sh
# Writes each variable's value, byte for byte, to OUTDIR/NAME (a later NAME replaces an
# earlier one) and prints the names, one per line. Reads the forms context.sh is written in:
#   NAME='value'      Stratus, OpenNebula 4+: literal up to the next ', newlines included;
#                     a ' in the value is written '\''
#   NAME="value"      OpenNebula 3: \" \\ \$ \` stand for the character, \<newline> for nothing
#   NAME=value        up to a blank or ;
# Lines that are not assignments (comments, commands) are skipped; an unclosed quote drops
# the variable it was in. Values are consumed in runs (index/match), not a character at a
# time, so a 64 KiB value stays fast in busybox awk.
function emit(   f) { f = dir "/" name; printf "%s", val > f; close(f); print name; name = "" }
BEGIN { name = ""; q = ""; cont = 0 }
{
  line = $0
  if (name == "") {
    if (!match(line, /^[A-Za-z_][A-Za-z0-9_]*=/)) next
    name = substr(line, 1, RLENGTH - 1); line = substr(line, RLENGTH + 1); val = ""
  } else if (q != "" && !cont) val = val "\n"
  cont = 0
  while (line != "") {
    if (q == "'") {
      i = index(line, "'")
      if (!i) { val = val line; line = ""; break }
      val = val substr(line, 1, i - 1); line = substr(line, i + 1); q = ""
    } else if (q == "\"") {
      if (!match(line, /[\\"]/)) { val = val line; line = ""; break }
      val = val substr(line, 1, RSTART - 1); c = substr(line, RSTART, 1); line = substr(line, RSTART + 1)
      if (c == "\"") { q = ""; continue }
      if (line == "") { cont = 1; break }
      c = substr(line, 1, 1); line = substr(line, 2)
      val = val (c ~ /[$`"\\]/ ? "" : "\\") c
    } else {
      if (match(line, /^[^'"\\ \t;]+/)) { val = val substr(line, 1, RLENGTH); line = substr(line, RLENGTH + 1); continue }
      c = substr(line, 1, 1); line = substr(line, 2)
      if (c == "'" || c == "\"") q = c
      else if (c == "\\") { if (line == "") { cont = 1; break } val = val substr(line, 1, 1); line = substr(line, 2) }
      else line = ""
    }
  }
  if (q == "" && !cont) emit()
}
END { if (name != "") { print "context.awk: unclosed quote in " name " (dropped)" > "/dev/stderr"; exit 1 } }

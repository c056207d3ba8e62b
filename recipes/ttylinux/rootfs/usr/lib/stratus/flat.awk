# flat.awk - print every scalar of a YAML document as "path<TAB>value", with
# backslash and newline escaped (\\ and \n) so each value fits on one line.
function yaml_done(   i, v) {
  for (i = 1; i <= NORD; i++) {
    v = V[ORD[i]]; gsub(/\\/, "\\\\", v); gsub(/\n/, "\\n", v)
    print ORD[i] "\t" v
  }
}

# cloudconfig.awk - turn the keys of a #cloud-config document that ttylinux
# supports into shell calls, for stratus-context to source:
#   cc_ssh_key KEY                      (ssh_authorized_keys)
#   cc_hostname NAME                    (hostname, fqdn)
#   cc_write_file PATH CONTENT PERMS OWNER ENCODING APPEND DEFER   (write_files)
#   cc_bootcmd LINE / cc_runcmd LINE    (a list item is shell-quoted and joined)
#   cc_unsupported KEY                  (everything else, only logged)
# Every argument is single-quoted, so any content survives the trip.
function q(s) { gsub(/'/, "'\\''", s); return "'" s "'" }
function get(p, d) { return (p in V) ? V[p] : d }
function cmdline(p,   j, s) {
  if (T[p] != "seq") return get(p, "")
  s = ""
  for (j = 0; (p "." j) in V; j++) s = s (j ? " " : "") q(V[p "." j])
  return s
}
function items(k, fn,   i) {
  if (T[k] != "seq") { if (k in V && V[k] != "") print fn " " q(V[k]); return }
  for (i = 0; i < NEXTIDX[k]; i++) print fn " " q(cmdline(k "." i))
}
function yaml_done(   i, k, p) {
  for (i = 1; i <= NTOP; i++) {
    k = TOP[i]
    if (k == "ssh_authorized_keys") items(k, "cc_ssh_key")
    else if (k == "hostname" || k == "fqdn") print "cc_hostname " q(get(k, ""))
    else if (k == "bootcmd") items(k, "cc_bootcmd")
    else if (k == "runcmd") items(k, "cc_runcmd")
    else if (k == "write_files") {
      for (i2 = 0; i2 < NEXTIDX[k]; i2++) {
        p = k "." i2
        if (!((p ".path") in V)) continue
        print "cc_write_file " q(V[p ".path"]) " " q(get(p ".content", "")) " " \
          q(get(p ".permissions", "0644")) " " q(get(p ".owner", "root:root")) " " \
          q(get(p ".encoding", "text/plain")) " " q(get(p ".append", "false")) " " q(get(p ".defer", "false"))
      }
    }
    else print "cc_unsupported " q(k)
  }
}

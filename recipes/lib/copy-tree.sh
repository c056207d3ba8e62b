# copy_tree SRC DST: copy a recipe's files into an image tree with modes that do not depend
# on the checkout (git keeps only "executable or not", and the umask decides the rest):
# directories and executables 0755, other files 0644, symlinks as they are, owner root.
# Scripts chmod what must differ (shadow, /root) afterwards.
copy_tree() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r f; do
    if [ -L "$f" ]; then cp -d "$f" "$2/$f"
    elif [ -d "$f" ]; then mkdir -p "$2/$f"; chmod 755 "$2/$f"
    elif [ -x "$f" ]; then cp "$f" "$2/$f"; chmod 755 "$2/$f"
    else cp "$f" "$2/$f"; chmod 644 "$2/$f"
    fi
  done)
}

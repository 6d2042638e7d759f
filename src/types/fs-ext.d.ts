// The slice of fs-ext that reid uses: flock(2) on a file descriptor, which fs-ext's own package
// does not declare types for.
declare module "fs-ext" {
  const fsExt: {
    /** flock(2); "exnb" and "shnb" throw EAGAIN (EWOULDBLOCK) instead of waiting. */
    flockSync(fd: number, flags: "ex" | "sh" | "exnb" | "shnb" | "un"): void;
  };
  export default fsExt;
}

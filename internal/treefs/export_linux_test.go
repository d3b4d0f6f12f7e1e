package treefs

// forcePortable makes r check paths in user space, as on kernels without
// openat2.
func forcePortable(r *Root) { r.sys.beneath = false }

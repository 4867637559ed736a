package proc

const sysSeccomp = 277 // seccomp(2) on arm64

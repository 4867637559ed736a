package proc

const sysSeccomp = 317 // seccomp(2) on amd64

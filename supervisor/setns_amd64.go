package main

// sysSetns is setns(2) on this architecture (the syscall package does not name it).
const sysSetns = 308

package apitest

import "syscall"

// ownProcessGroup puts a child in a process group of its own, so that it
// can be killed with its children (nginx's workers), and has the kernel
// kill it should the test binary die first.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

//go:build !linux

package apitest

import (
	"os"
	"syscall"
)

// ownProcessGroup: only Linux can tie a child's life to the test binary's;
// elsewhere the cleanup's kill is all there is.
func ownProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

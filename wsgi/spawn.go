package wsgi

import (
	"os/exec"
	"runtime"
)

// spawner starts processes from one OS thread that never exits. Linux
// delivers Pdeathsig when the thread that forked a child exits, not the
// process, so workers forked from an arbitrary goroutine's thread could be
// killed early if the Go runtime retired that thread.
type spawner struct {
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq)}
	go func() {
		runtime.LockOSThread() // never unlocked: this thread lives with the process
		for r := range s.reqs {
			r.done <- r.cmd.Start()
		}
	}()
	return s
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	s.reqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

// stop ends the spawner goroutine; its thread is then discarded by the
// runtime, which is harmless once no worker remains.
func (s *spawner) stop() { close(s.reqs) }

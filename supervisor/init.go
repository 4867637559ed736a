package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"sandfleet/supervisor/guard"
	"sandfleet/supervisor/lifetime"
	"sandfleet/supervisor/proc"
	"sandfleet/supervisor/server"
)

// Config is what sandfleet tells the supervisor when it makes the sandbox.
type Config struct {
	TimeoutMs     int64 `json:"timeoutMs,omitempty"`
	IdleTimeoutMs int64 `json:"idleTimeoutMs,omitempty"`
	// Warm: a pool member, whose lifetime starts when it is claimed.
	Warm bool `json:"warm,omitempty"`
	// Ports published as tunnels: an open connection to one is activity.
	Ports []int `json:"ports,omitempty"`
	// Probe is the engine's health check command line, whose execs are not activity.
	Probe []string `json:"probe,omitempty"`
	// IdleAction "pause": an idle sandbox is paused from outside, not ended here.
	IdleAction string `json:"idleAction,omitempty"`
	// ControlUid, where the engine runs the host's `connect` exec as a user of
	// its own (Docker), is the only uid a connection may come from. No
	// process of the sandbox may have it: the supervisor refuses to run as it.
	ControlUid *int `json:"controlUid,omitempty"`
	// Runtime "runsc": gVisor's kernel, which does not spare PID 1 the
	// signals it leaves at their default, as Linux does.
	Runtime string `json:"runtime,omitempty"`
}

// Unauthenticated connections: how many may wait at once, and how long each
// may take to send its first frame (the host's is already on its way when it connects).
const (
	maxPendingConnections = 64
	authWait              = 5 * time.Second
)

// reservedThreads is how many OS threads the supervisor makes at start and
// keeps, so that a sandbox that uses up its pids limit cannot make the Go
// runtime die for want of one (see guard.ReserveThreads).
const reservedThreads = 16

// minSecretLength refuses a secret too short to guess at: the host makes 64 hex characters.
const minSecretLength = 32

// The exit code of a sandbox that sandfleet ended by its timeout or idle timeout.
const endedExitCode = 124

func runInit(args []string) int {
	guard.NotDumpable()
	var config Config
	var secret string
	for len(args) >= 2 && (args[0] == "--config" || args[0] == "--secret") {
		if args[0] == "--secret" {
			// Off the command line (/proc/1/cmdline) before anything of the sandbox's runs.
			secret = guard.TakeArg(args[1])
		} else if err := json.Unmarshal([]byte(args[1]), &config); err != nil {
			fmt.Fprintf(os.Stderr, "sandfleet-supervisor: bad --config: %v\n", err)
			return 2
		}
		args = args[2:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(secret) < minSecretLength {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor: --secret must give the sandbox's secret (at least %d characters), made by the host that makes the sandbox\n", minSecretLength)
		return 2
	}
	if config.ControlUid != nil && os.Getuid() == *config.ControlUid {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor: refusing to run as uid %d, which is reserved for the host's connections; give the sandbox another user\n", *config.ControlUid)
		return 2
	}
	guard.ReserveThreads(reservedThreads)
	guard.Signals(os.Getpid() == 1 && config.Runtime != "runsc")
	if config.Runtime == "runsc" {
		// gVisor lets a queued SIGKILL or SIGSTOP reach PID 1: what this starts may not send one.
		if err := guard.SparePid1(); err != nil {
			fmt.Fprintf(os.Stderr, "sandfleet-supervisor: cannot keep PID 1's signals from the sandbox: %v\n", err)
			return 1
		}
	}
	listener, err := net.Listen("unix", Address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor: cannot listen on %s: %v\n", Address, err)
		return 1
	}
	self, _ := os.Executable()
	tracker := lifetime.New(
		time.Duration(config.TimeoutMs)*time.Millisecond,
		time.Duration(config.IdleTimeoutMs)*time.Millisecond,
		!config.Warm, time.Now,
		func() bool { return engineExecRunning(self, config.Probe) || tunnelOpen(config.Ports) },
	)
	if config.IdleAction == "pause" {
		tracker.PauseOnIdle()
	}
	srv := &server.Server{Tracker: tracker, BaseEnv: os.Environ(), OOM: proc.NewOOMLedger()}

	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, terminateSignal)

	var mainDone <-chan proc.Status
	mainPid := 0
	oomMark := srv.OOM.Mark()
	if len(args) > 0 {
		cwd, _ := os.Getwd()
		p, err := proc.Start(proc.Spec{Argv: args, Env: os.Environ(), Dir: cwd, InheritOutput: true})
		if err != nil {
			fmt.Fprintf(os.Stderr, "sandfleet-supervisor: %v\n", err)
			if errors.Is(err, proc.ErrNotFound) {
				return 127
			}
			return 126
		}
		srv.MainStdin, mainDone, mainPid = p.Stdin, p.Done, p.Pid
	}
	gate := &server.Gate{Secret: []byte(secret), ControlUid: config.ControlUid, MaxPending: maxPendingConnections, AuthWait: authWait}
	go func() {
		for {
			c, err := listener.Accept()
			if err != nil {
				time.Sleep(10 * time.Millisecond) // out of descriptors: let some close rather than spin
				continue
			}
			go func() {
				if gate.Admit(c) {
					srv.Serve(c)
				}
			}()
		}
	}()

	tick := time.NewTicker(250 * time.Millisecond)
	for {
		select {
		case status := <-mainDone:
			// Its last words say how the command ended, after every other process of the
			// sandbox is gone, so that none can write after them.
			oom := status.Signal == syscall.SIGKILL && srv.OOM.Claim(oomMark)
			endAll(mainPid)
			say(mainEnd(status, oom))
			return status.Code
		case sig := <-signals:
			if sig == terminateSignal {
				endAll(mainPid)
				say("sandfleet: sandbox terminated")
				return terminatedExitCode
			}
			if mainPid > 0 {
				syscall.Kill(-mainPid, sig.(syscall.Signal))
			} else if sig == syscall.SIGTERM || sig == syscall.SIGINT {
				return 128 + int(sig.(syscall.Signal))
			}
		case <-tick.C:
			returnMemoryWhenQuiet(tracker)
			if reason, due := tracker.Due(); due {
				endAll(mainPid)
				say("sandfleet: sandbox ended by its " + describe(reason))
				return endedExitCode
			}
		}
	}
}

// quietFor is how long the sandbox has no command running before the
// supervisor gives back to the kernel what a burst of commands needed.
const quietFor = 2 * time.Second

var returnedAt time.Time

// returnMemoryWhenQuiet keeps the supervisor small in every sandbox without
// slowing a burst down: the Go runtime keeps freed memory for reuse, which
// is right while commands run and a waste once they stop.
func returnMemoryWhenQuiet(tracker *lifetime.Tracker) {
	running, last := tracker.Activity()
	if running == 0 && time.Since(last) > quietFor && returnedAt.Before(last) {
		debug.FreeOSMemory()
		returnedAt = time.Now()
	}
}

func describe(reason lifetime.Reason) string {
	if reason == lifetime.Idle {
		return "idle timeout"
	}
	return "timeout"
}

// endAll kills every process of the sandbox. As PID 1, kill(-1) reaches
// every other process in the sandbox's PID namespace and nothing outside it;
// it waits a moment for them to be gone, so that none writes to the
// sandbox's log after the supervisor's last words.
func endAll(mainPid int) {
	if os.Getpid() != 1 {
		if mainPid > 0 {
			proc.KillTree(mainPid, "")
		}
		return
	}
	syscall.Kill(-1, syscall.SIGKILL)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		proc.Reap()
		if proc.Children() == 0 { // the engine's own execs do not write to the sandbox's log
			return
		}
	}
}

// say writes one of the supervisor's last words: the line the host reads to
// tell why the sandbox ended (provider/runtime/observability/events.ts).
func say(line string) { fmt.Fprintln(os.Stderr, line) }

// mainEnd is what the supervisor says when the sandbox's command ended.
func mainEnd(status proc.Status, oom bool) string {
	if oom {
		return "sandfleet: sandbox ended: its command was killed for memory (oom)"
	}
	return fmt.Sprintf("sandfleet: sandbox ended: its command exited with %d", status.Code)
}

// engineExecRunning says whether the engine runs a command in the sandbox
// beside the supervisor: an exec other than a supervisor connection or the
// engine's own health check.
func engineExecRunning(self string, probe []string) bool {
	return proc.ForeignProcesses(func(pid int) bool {
		argv := proc.Cmdline(pid)
		if len(argv) >= 2 && argv[1] == "connect" && (argv[0] == self || filepath.Base(argv[0]) == filepath.Base(self)) {
			return true
		}
		return len(probe) > 0 && slices.Equal(argv, probe)
	}) > 0
}

// tunnelOpen says whether a TCP connection to a published port is open,
// from the sandbox's own network namespace.
func tunnelOpen(ports []int) bool {
	if len(ports) == 0 {
		return false
	}
	wanted := map[string]bool{}
	for _, p := range ports {
		wanted[fmt.Sprintf("%04X", p)] = true
	}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			cols := strings.Fields(line)
			if len(cols) < 4 {
				continue
			}
			_, port, _ := strings.Cut(cols[1], ":")
			if wanted[port] && cols[3] == "01" { // 01: ESTABLISHED
				return true
			}
		}
	}
	return false
}

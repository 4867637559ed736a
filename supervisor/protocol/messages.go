package protocol

// The messages of the protocol, as declared in protocol.json beside this
// file; declaration_test.go holds every type and constant here to it, field
// by field.

// Version is sent in every Hello; a client refuses a supervisor whose major
// version it does not know.
const Version = "1"

// AuthRequest is the first frame of every connection: the sandbox's secret,
// which only the host side (the engine's record of the container) holds. PID 1
// gets it as `init --secret`, and takes it off its command line at once.
type AuthRequest struct {
	Secret string `json:"secret"`
}

// HelloReply answers an accepted AuthRequest; a refused one gets nothing.
type HelloReply struct {
	Version string `json:"version"`
	Pid     int    `json:"pid"`
	Uid     int    `json:"uid"`
}

// Op names an operation a channel is opened for.
type Op string

const (
	OpExec     Op = "exec"
	OpRead     Op = "read"
	OpWrite    Op = "write"
	OpList     Op = "list"
	OpStat     Op = "stat"
	OpMkdir    Op = "mkdir"
	OpRemove   Op = "remove"
	OpWatch    Op = "watch"
	OpStdin    Op = "stdin"
	OpLifetime Op = "lifetime"
	OpTouch    Op = "touch"
	OpActivity Op = "activity"
	OpPing     Op = "ping"
)

// Request opens a channel. Op selects the operation; the other fields are
// the parameters of every operation, each one's as protocol.json declares.
type Request struct {
	Op Op `json:"op"`

	// exec
	Argv      []string          `json:"argv,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Workdir   string            `json:"workdir,omitempty"`
	TimeoutMs int64             `json:"timeoutMs,omitempty"`
	Pty       *WindowSize       `json:"pty,omitempty"`

	// files
	Path     string `json:"path,omitempty"`
	MaxBytes int64  `json:"maxBytes,omitempty"`
	Offset   int64  `json:"offset,omitempty"`
	Length   int64  `json:"length,omitempty"`
	Append   bool   `json:"append,omitempty"`
	// Positioned writes from Offset and keeps what the file has beyond.
	Positioned bool `json:"positioned,omitempty"`
	Parents    bool `json:"parents,omitempty"`
	Recursive  bool `json:"recursive,omitempty"`
	Force      bool `json:"force,omitempty"`

	// lifetime: milliseconds from now; 0 leaves a bound as it is, -1 removes it
	IdleTimeoutMs int64 `json:"idleTimeoutMs,omitempty"`
}

// WindowSize of a PTY, in character cells.
type WindowSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// SignalRequest sends a signal to an exec's whole process tree.
type SignalRequest struct {
	Signal int `json:"signal"`
}

// StartedReply says an exec is running.
type StartedReply struct {
	Pid int `json:"pid"`
}

// ExitReply ends an exec's channel.
type ExitReply struct {
	ExitCode int  `json:"exitCode"`
	Signal   int  `json:"signal,omitempty"`
	TimedOut bool `json:"timedOut,omitempty"`
	// OOM: the kernel killed the command for memory (the sandbox's limit).
	OOM bool `json:"oom,omitempty"`
}

// SizeResult ends a read (the bytes sent) or a write (the bytes taken).
type SizeResult struct {
	SizeBytes int64 `json:"sizeBytes"`
}

// ListResult ends a list.
type ListResult struct {
	Entries []Entry `json:"entries"`
}

// Entry is one path, as a list or a stat tells it.
type Entry struct {
	Name       string `json:"name"`
	Type       string `json:"type"` // file, directory, symlink or other
	SizeBytes  int64  `json:"sizeBytes"`
	Target     string `json:"target,omitempty"`
	Mode       uint32 `json:"mode"`
	ModifiedMs int64  `json:"modifiedMs"`
}

// WatchEvent is one change seen under a watched path, one JSON line each in a watch's Stdout frames.
type WatchEvent struct {
	Type string `json:"type"` // create, modify, remove
	Path string `json:"path"`
}

// LifetimeResult ends a lifetime: the bounds now.
type LifetimeResult struct {
	IdleTimeoutMs int64 `json:"idleTimeoutMs"`
	// DeadlineMs is in Unix milliseconds; left out while there is no deadline.
	DeadlineMs int64 `json:"deadlineMs,omitempty"`
}

// Activity is what an outside watcher needs to decide a pause: how many
// operations run, how long nothing has, and how many commands ever ran.
type Activity struct {
	Running   int   `json:"running"`
	IdleForMs int64 `json:"idleForMs"`
	Execs     int64 `json:"execs"`
}

// Empty ends an operation that has nothing to say.
type Empty struct{}

// FailureReply ends a channel whose operation could not be done. Code is
// one of the Err* values, for clients to map to their own error types.
type FailureReply struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

const (
	ErrNotFound      = "not_found"
	ErrIsADirectory  = "is_a_directory"
	ErrNotADirectory = "not_a_directory"
	ErrAlreadyExists = "already_exists"
	ErrNotEmpty      = "not_empty"
	ErrPermission    = "permission_denied"
	ErrTooLarge      = "too_large"
	ErrInvalid       = "invalid"
	ErrFailed        = "failed"
)

package protocol

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

// Request opens a channel. Op selects the operation; the other fields are
// the operation's parameters.
type Request struct {
	Op string `json:"op"`

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

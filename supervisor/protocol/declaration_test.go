package protocol

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// protocol.json, where the protocol is declared for both sides: this package
// is written by hand, and these tests hold it to the declaration.
type declaration struct {
	Version string
	Limits  struct{ HeaderBytes, MaxPayload, MaxAuthPayload int }
	Frames  map[string]struct{ Byte, From, Payload string }
	Ops     map[string]struct {
		Fields     map[string]string
		Done, Exit string
	}
	Messages map[string]struct{ Fields map[string]string }
	Enums    map[string][]string
}

// What each declared name is in Go. A name declared without an entry here,
// or an entry for a name no longer declared, fails the tests below.
var (
	declaredKinds = map[string]Kind{
		"auth": Auth, "open": Open, "input": Input, "endInput": EndIn, "signal": Signal, "resize": Resize,
		"hello": Hello, "started": Started, "stdout": Stdout, "stderr": Stderr, "exit": Exit, "done": Done, "failure": Failure,
	}
	goOps = []Op{
		OpExec, OpRead, OpWrite, OpList, OpStat, OpMkdir, OpRemove, OpWatch, OpStdin, OpLifetime, OpTouch, OpActivity, OpPing,
	}
	goMessages = map[string]reflect.Type{
		"AuthRequest":    reflect.TypeFor[AuthRequest](),
		"HelloReply":     reflect.TypeFor[HelloReply](),
		"WindowSize":     reflect.TypeFor[WindowSize](),
		"SignalRequest":  reflect.TypeFor[SignalRequest](),
		"StartedReply":   reflect.TypeFor[StartedReply](),
		"ExitReply":      reflect.TypeFor[ExitReply](),
		"FailureReply":   reflect.TypeFor[FailureReply](),
		"SizeResult":     reflect.TypeFor[SizeResult](),
		"ListResult":     reflect.TypeFor[ListResult](),
		"Entry":          reflect.TypeFor[Entry](),
		"WatchEvent":     reflect.TypeFor[WatchEvent](),
		"LifetimeResult": reflect.TypeFor[LifetimeResult](),
		"Activity":       reflect.TypeFor[Activity](),
		"Empty":          reflect.TypeFor[Empty](),
	}
	goFailureCodes = []string{
		ErrNotFound, ErrIsADirectory, ErrNotADirectory, ErrAlreadyExists, ErrNotEmpty, ErrPermission, ErrTooLarge, ErrInvalid, ErrFailed,
	}
)

func readDeclaration(t *testing.T) declaration {
	t.Helper()
	raw, err := os.ReadFile("protocol.json")
	if err != nil {
		t.Fatal(err)
	}
	var d declaration
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func sorted[K comparable](keys []K, name func(K) string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, name(k))
	}
	sort.Strings(out)
	return out
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameNames(t *testing.T, what string, declared, here []string) {
	t.Helper()
	if !reflect.DeepEqual(declared, here) {
		t.Errorf("%s: protocol.json declares %v, Go has %v", what, declared, here)
	}
}

func TestTheVersionAndLimitsAreTheDeclaredOnes(t *testing.T) {
	d := readDeclaration(t)
	if d.Version != Version || d.Limits.HeaderBytes != HeaderSize || d.Limits.MaxPayload != MaxPayload ||
		d.Limits.MaxAuthPayload != MaxAuthPayload {
		t.Errorf("protocol.json: version %q, limits %+v; Go: %q, %d, %d, %d",
			d.Version, d.Limits, Version, HeaderSize, MaxPayload, MaxAuthPayload)
	}
}

func TestEveryFrameKindIsTheDeclaredByte(t *testing.T) {
	d := readDeclaration(t)
	sameNames(t, "frame kinds", keysOf(d.Frames), keysOf(declaredKinds))
	bytes := map[Kind]string{}
	for name, frame := range d.Frames {
		if kind, ok := declaredKinds[name]; ok && (len(frame.Byte) != 1 || Kind(frame.Byte[0]) != kind) {
			t.Errorf("frame %s: declared %q, Go has %q", name, frame.Byte, kind)
		}
		if other, taken := bytes[Kind(frame.Byte[0])]; taken {
			t.Errorf("frames %s and %s share the byte %q", name, other, frame.Byte)
		}
		bytes[Kind(frame.Byte[0])] = name
		if _, message := goMessages[frame.Payload]; !message && !strings.Contains(" bytes none request result ", " "+frame.Payload+" ") {
			t.Errorf("frame %s: its payload %q is no message", name, frame.Payload)
		}
	}
}

func TestEveryOperationIsDeclared(t *testing.T) {
	d := readDeclaration(t)
	sameNames(t, "operations", keysOf(d.Ops), sorted(goOps, func(op Op) string { return string(op) }))
	for name, op := range d.Ops {
		ends := op.Done + op.Exit
		if _, ok := goMessages[ends]; !ok || (op.Done != "") == (op.Exit != "") {
			t.Errorf("op %s: ends with done %q or exit %q, one message exactly", name, op.Done, op.Exit)
		}
	}
}

func TestFailureCodesAreTheDeclaredOnes(t *testing.T) {
	d := readDeclaration(t)
	sameNames(t, "failure codes", sorted(d.Enums["FailureCode"], func(s string) string { return s }),
		sorted(goFailureCodes, func(s string) string { return s }))
}

func TestEveryMessageHasTheDeclaredFields(t *testing.T) {
	d := readDeclaration(t)
	sameNames(t, "messages", keysOf(d.Messages), keysOf(goMessages))
	for name, message := range d.Messages {
		if typ, ok := goMessages[name]; ok {
			checkFields(t, d, name, typ, message.Fields)
		}
	}
}

// Request is one struct for every operation: it has each field of each
// operation, all of them omitempty, and nothing else but op.
func TestTheRequestHasEveryOperationsFields(t *testing.T) {
	d := readDeclaration(t)
	types := map[string]string{}
	for name, op := range d.Ops {
		for field, declared := range op.Fields {
			declared = strings.TrimSuffix(declared, "?")
			if other, seen := types[field]; seen && other != declared {
				t.Errorf("op %s: %s is %s, another operation's is %s", name, field, declared, other)
			}
			types[field] = declared
		}
	}
	union := map[string]string{"op": "string"}
	for field, declared := range types {
		union[field] = declared + "?"
	}
	checkFields(t, d, "Request", reflect.TypeFor[Request](), union)
}

// checkFields compares a struct's JSON fields with declared ones: the same
// names, omitempty exactly on those that may be left out, matching types.
func checkFields(t *testing.T, d declaration, name string, typ reflect.Type, declared map[string]string) {
	t.Helper()
	here := map[string]reflect.StructField{}
	omitted := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		field := typ.Field(i)
		tag, options, _ := strings.Cut(field.Tag.Get("json"), ",")
		if tag == "-" || !field.IsExported() {
			continue
		}
		if tag == "" {
			t.Errorf("%s.%s has no json name", name, field.Name)
			continue
		}
		here[tag] = field
		omitted[tag] = strings.Contains(","+options+",", ",omitempty,")
	}
	sameNames(t, name+"'s fields", keysOf(declared), keysOf(here))
	for field, decl := range declared {
		goField, ok := here[field]
		if !ok {
			continue
		}
		optional := strings.HasSuffix(decl, "?")
		if omitted[field] != optional {
			t.Errorf("%s.%s: declared %q, but omitempty is %v", name, field, decl, omitted[field])
		}
		if !typeMatches(d, goField.Type, strings.TrimSuffix(decl, "?")) {
			t.Errorf("%s.%s: declared %q, Go has %s", name, field, decl, goField.Type)
		}
	}
}

func typeMatches(d declaration, typ reflect.Type, declared string) bool {
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case strings.HasSuffix(declared, "[]"):
		return typ.Kind() == reflect.Slice && typeMatches(d, typ.Elem(), strings.TrimSuffix(declared, "[]"))
	case declared == "map<string>":
		return typ.Kind() == reflect.Map && typ.Key().Kind() == reflect.String && typ.Elem().Kind() == reflect.String
	case declared == "string":
		return typ.Kind() == reflect.String
	case declared == "bool":
		return typ.Kind() == reflect.Bool
	case declared == "int":
		return typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Int64
	case declared == "uint":
		return typ.Kind() >= reflect.Uint && typ.Kind() <= reflect.Uint64
	}
	if _, enum := d.Enums[declared]; enum {
		return typ.Kind() == reflect.String
	}
	message, ok := goMessages[declared]
	return ok && typ == message
}

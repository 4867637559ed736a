package server

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// What the server sends and which operation it serves are written with the
// protocol package's types and constants, which protocol/declaration_test.go
// holds to protocol.json: never an operation's name written out, never a
// reply made of a map or a struct type of its own.
func TestTheServerWritesTheProtocolWithItsTypes(t *testing.T) {
	raw, err := os.ReadFile("../protocol/protocol.json")
	if err != nil {
		t.Fatal(err)
	}
	var declared struct{ Ops map[string]json.RawMessage }
	if err := json.Unmarshal(raw, &declared); err != nil {
		t.Fatal(err)
	}
	sources, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, source := range sources {
		if strings.HasSuffix(source, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, source, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, problem := range protocolProblems(file, declared.Ops) {
			t.Errorf("%s: %s", fset.Position(problem.at), problem.what)
		}
	}
}

type problem struct {
	at   token.Pos
	what string
}

func protocolProblems(file *ast.File, ops map[string]json.RawMessage) []problem {
	var found []problem
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if text, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
				if _, op := ops[text]; op {
					found = append(found, problem{n.Pos(), "the operation " + n.Value + " written out"})
				}
			}
		case *ast.CallExpr:
			name := ""
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				name = sel.Sel.Name
			}
			// The reply is sendJSON's third argument, replyFiles' second.
			value := map[string]int{"sendJSON": 2, "replyFiles": 1}
			if at, sends := value[name]; sends && len(n.Args) == 3 {
				if literal, ok := n.Args[at].(*ast.CompositeLit); ok {
					switch literal.Type.(type) {
					case *ast.MapType, *ast.StructType:
						found = append(found, problem{literal.Pos(), "a reply of a type the protocol does not declare"})
					}
				}
			}
		}
		return true
	})
	return found
}

func TestTheServersRuleFindsWhatItLooksFor(t *testing.T) {
	source := `package server
func f() {
	switch req.Op {
	case "exec":
	}
	c.sendJSON(protocol.Done, id, map[string]int64{"sizeBytes": 1})
	c.replyFiles(id, struct{}{}, err)
	c.sendJSON(protocol.Done, id, protocol.Empty{})
}`
	file, err := parser.ParseFile(token.NewFileSet(), "probe.go", source, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := protocolProblems(file, map[string]json.RawMessage{"exec": nil}); len(got) != 3 {
		t.Errorf("found %d problems, want 3: %v", len(got), got)
	}
}

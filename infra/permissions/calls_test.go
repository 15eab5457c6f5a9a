package permissions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The cross-check of the table against the code: for every functions/<name>,
// the AWS SDK calls its handler can reach (through internal/steps and
// internal/dspublish, statically, conservatively: an interface call reaches
// every method of that name in those packages, a function value counts as a
// call) must be granted, and every granted action not marked Implied must be
// reachable. The SDK calls are recognised by type, not by name: a method
// whose second parameter is *<service>.<Op>Input of an aws-sdk-go-v2 service
// package is the IAM action <service prefix>:<Op>.

const module = "github.com/dnssec-autopilot/dnssec-autopilot"

// analysed are the packages whose code is followed.
var analysed = []string{module + "/internal/steps", module + "/internal/dspublish"}

// iamPrefix maps SDK service packages to IAM service prefixes.
var iamPrefix = map[string]string{"route53": "route53", "kms": "kms", "route53domains": "route53domains", "sns": "sns",
	"route53resolver": "route53resolver", "sfn": "states", "cloudwatch": "cloudwatch", "sts": "sts", "scheduler": "scheduler"}

type pkgInfo struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// callGraph type-checks the analysed packages from source (their imports
// from compiled export data) and returns, per function (types.Func.FullName),
// the functions it uses and the SDK actions it calls.
func callGraph(t *testing.T, root string) (edges map[string][]string, calls map[string][]string, methods map[string][]string) {
	t.Helper()
	args := append([]string{"list", "-export", "-deps", "-json=ImportPath,Dir,Export,GoFiles"}, analysed...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkgInfo{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		p, ok := pkgs[path]
		if !ok || p.Export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p.Export)
	})
	edges, calls, methods = map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, path := range analysed {
		p := pkgs[path]
		var files []*ast.File
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, af)
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(path, fset, files, info); err != nil {
			t.Fatalf("type-checking %s: %v", path, err)
		}
		for _, f := range files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				fn := info.Defs[fd.Name].(*types.Func)
				key := fn.FullName()
				if fd.Recv != nil {
					methods[fn.Name()] = append(methods[fn.Name()], key)
				}
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					id, ok := n.(*ast.Ident)
					if !ok {
						return true
					}
					used, ok := info.Uses[id].(*types.Func)
					if !ok {
						return true
					}
					if a := sdkAction(used); a != "" {
						calls[key] = append(calls[key], a)
					} else if used.Pkg() != nil && strings.HasPrefix(used.Pkg().Path(), module) {
						target := used.FullName()
						if sig, ok := used.Type().(*types.Signature); ok && sig.Recv() != nil && types.IsInterface(sig.Recv().Type()) {
							target = "iface:" + used.Name()
						}
						edges[key] = append(edges[key], target)
					}
					return true
				})
			}
		}
	}
	return edges, calls, methods
}

// sdkAction returns "route53:GetHostedZone" for a method of an SDK client
// (or of an interface listing it), "" otherwise.
func sdkAction(f *types.Func) string {
	sig, ok := f.Type().(*types.Signature)
	if !ok || sig.Params().Len() < 2 {
		return ""
	}
	ptr, ok := sig.Params().At(1).Type().(*types.Pointer)
	if !ok {
		return ""
	}
	named, ok := ptr.Elem().(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return ""
	}
	path := named.Obj().Pkg().Path()
	const sdk = "github.com/aws/aws-sdk-go-v2/service/"
	if !strings.HasPrefix(path, sdk) || named.Obj().Name() != f.Name()+"Input" {
		return ""
	}
	svc := strings.TrimPrefix(path, sdk)
	if p, ok := iamPrefix[svc]; ok {
		svc = p
	}
	return svc + ":" + f.Name()
}

// entry returns the handler method functions/<name>/main.go passes to
// lambda.Start.
func entry(t *testing.T, root, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "functions", name, "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var method string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Start" && len(call.Args) == 1 {
			if arg, ok := call.Args[0].(*ast.SelectorExpr); ok {
				method = arg.Sel.Name
			}
		}
		return true
	})
	if method == "" {
		t.Fatalf("functions/%s/main.go: no lambda.Start(h.<Step>): the cross-check cannot find its handler", name)
	}
	return "(*" + module + "/internal/steps.Handler)." + method
}

// reachable returns the SDK actions reachable from start.
func reachable(start string, edges, calls, methods map[string][]string) []string {
	seen := map[string]bool{}
	var out []string
	var visit func(k string)
	visit = func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		if name, ok := strings.CutPrefix(k, "iface:"); ok {
			for _, m := range methods[name] {
				visit(m)
			}
			return
		}
		out = append(out, calls[k]...)
		for _, e := range edges[k] {
			visit(e)
		}
	}
	visit(start)
	slices.Sort(out)
	return slices.Compact(out)
}

func TestTableMatchesCode(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks internal/steps")
	}
	root := repoRoot(t)
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil || len(dirs) == 0 {
		t.Skip("no functions yet")
	}
	edges, calls, methods := callGraph(t, root)
	for _, d := range dirs {
		name := d.Name()
		entryFn, ok := Table[name]
		if ok && entryFn.PerVPC {
			continue // the probe makes DNS queries only
		}
		got := reachable(entry(t, root, name), edges, calls, methods)
		if !ok {
			t.Errorf("functions/%s has no entry in Table; its code can call: %s", name, strings.Join(got, " "))
			continue
		}
		granted := entryFn.Actions()
		for _, a := range got {
			if !slices.Contains(granted, a) {
				t.Errorf("functions/%s: the code can call %s, which Table does not grant", name, a)
			}
		}
		for _, g := range entryFn.Grants {
			if g.Implied {
				continue
			}
			for _, a := range g.Actions {
				if !slices.Contains(got, a) {
					t.Errorf("functions/%s: Table grants %s (%s), but no code of the function calls it: remove it or mark the grant Implied with the reason", name, a, g.Why)
				}
			}
		}
		t.Logf("functions/%s: %s", name, strings.Join(got, " "))
	}
}

// TestTableShape: account-level grants only for actions without resource
// types; no wildcard actions; every grant explained.
func TestTableShape(t *testing.T) {
	for _, name := range Sorted() {
		for _, g := range Table[name].Grants {
			if g.Why == "" {
				t.Errorf("%s: a grant of %v has no Why", name, g.Actions)
			}
			for _, a := range g.Actions {
				if strings.Contains(a, "*") || !strings.Contains(a, ":") {
					t.Errorf("%s: action %q: want service:Action without wildcard", name, a)
				}
				if g.On == Account && !slices.Contains(AccountLevelActions, a) {
					t.Errorf("%s: %s on Account (\"*\"), but it supports resource-level permissions", name, a)
				}
			}
		}
	}
}

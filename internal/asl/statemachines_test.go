package asl

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The project's workflows: statemachines/*.asl.json. Their ${Placeholders}
// must be listed, with an example value, in statemachines/substitutions.json
// (the names the CDK stack fills through DefinitionSubstitutions).
const statemachinesDir = "../../statemachines"

func projectDefinitions(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(statemachinesDir, "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no %s/*.asl.json yet", statemachinesDir)
	}
	return files
}

func projectSubstitutions(t *testing.T) map[string]string {
	t.Helper()
	subs := map[string]string{}
	b, err := os.ReadFile(filepath.Join(statemachinesDir, "substitutions.json"))
	if os.IsNotExist(err) {
		return subs
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &subs); err != nil {
		t.Fatalf("substitutions.json: %v", err)
	}
	return subs
}

func TestProjectStateMachinesLint(t *testing.T) {
	subs := projectSubstitutions(t)
	for _, f := range projectDefinitions(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			def, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range Lint(def, subs) {
				t.Errorf("%s: %s", f, p)
			}
		})
	}
}

// aslValidator returns a function running asl-validator --json-path.
func aslValidator(t *testing.T) func(file string) ([]byte, error) {
	t.Helper()
	node, dir := confTool(t)
	validator := filepath.Join(dir, "node_modules", "asl-validator", "dist", "bin", "asl-validator.js")
	if _, err := os.Stat(validator); err != nil {
		t.Fatalf("asl-validator not installed in %s: %v", dir, err)
	}
	return func(file string) ([]byte, error) {
		abs, _ := filepath.Abs(file)
		return exec.Command(node, validator, "--json-path", abs).CombinedOutput()
	}
}

func TestProjectStateMachinesASLValidator(t *testing.T) {
	files := projectDefinitions(t)
	validate := aslValidator(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel() // each run starts node (about a second)
			if out, err := validate(f); err != nil {
				t.Errorf("asl-validator --json-path %s: %v\n%s", f, err, out)
			}
		})
	}
}

// TestASLValidatorWiring proves the validator runs and fails a broken
// definition, while statemachines/ is still empty.
func TestASLValidatorWiring(t *testing.T) {
	validate := aslValidator(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.asl.json")
	bad := filepath.Join(dir, "bad.asl.json")
	os.WriteFile(good, []byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${CheckFn}","Payload.$":"$"},"End":true}}}`), 0o644)
	os.WriteFile(bad, []byte(`{"StartAt":"X","States":{"T":{"Type":"Pass","End":true}}}`), 0o644)
	if out, err := validate(good); err != nil {
		t.Errorf("asl-validator(good) = %v\n%s", err, out)
	}
	if out, err := validate(bad); err == nil {
		t.Errorf("asl-validator(bad) passed:\n%s", out)
	}
}

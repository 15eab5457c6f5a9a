// Command infra is the CDK app of dnssec-autopilot: `cdk synth` / `cdk deploy`
// from the repository root (cdk.json runs it). It deploys every
// functions/<step> as a Lambda, every statemachines/<workflow>.asl.json as a
// state machine, and per configured zone a rotation schedule and the two
// Route 53 DNSSEC alarms; see the README, "Deploying with cdk deploy".
//
// The configuration comes from CDK context "config" (a file path), or
// config/zones.json, or (for synth only) config/zones.example.json.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/dnssec-autopilot/dnssec-autopilot/infra/config"
)

// StackName is the CloudFormation stack's name.
const StackName = "DnssecAutopilot"

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if err := build(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	app.Synth(nil)
}

// build adds the stack to app, configured from the context or the files.
func build(app awscdk.App) error {
	path := configPath(app)
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	lay, err := LoadLayout(".", "build")
	if err != nil {
		return err
	}
	_, err = NewDNSSECStack(app, StackName, &StackProps{Config: cfg, Layout: lay})
	return err
}

// configPath chooses the configuration file.
func configPath(app awscdk.App) string {
	if v, ok := app.Node().TryGetContext(jsii.String("config")).(string); ok && v != "" {
		return v
	}
	if _, err := os.Stat("config/zones.json"); err == nil {
		return "config/zones.json"
	}
	fmt.Fprintln(os.Stderr, "infra: no config/zones.json: synthesizing with config/zones.example.json")
	return "config/zones.example.json"
}

package main

import (
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// The project file's names, as the CLI looks for them.
var projectFiles = []string{"Pulumi.yaml", "Pulumi.yml"}

// project is what of Pulumi.yaml the host's flags come from: `runtime` is either a name or
// `{name, options}`.
type project struct {
	Runtime yaml.Node `yaml:"runtime"`
}

type runtimeOptions struct {
	TypeScript *bool   `yaml:"typescript"`
	NodeArgs   *string `yaml:"nodeargs"`
	TSConfig   *string `yaml:"tsconfig"`
}

// hostFlags are the host's flags for the project of dir (or of the nearest folder above it
// holding a project file): only the options the project sets, so the host's own defaults hold
// for the rest. A folder with no project, or a project file that cannot be read, gives none: the
// CLI has read that file already and says what is wrong with it.
func hostFlags(dir string) []string {
	file := findProject(dir)
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var p project
	if yaml.Unmarshal(data, &p) != nil || p.Runtime.Kind != yaml.MappingNode {
		return nil
	}
	var runtime struct {
		Options runtimeOptions `yaml:"options"`
	}
	if p.Runtime.Decode(&runtime) != nil {
		return nil
	}
	var flags []string
	if o := runtime.Options; o.TypeScript != nil {
		if *o.TypeScript {
			flags = append(flags, "-typescript=true")
		} else {
			flags = append(flags, "-typescript=false")
		}
	}
	if o := runtime.Options; o.NodeArgs != nil {
		flags = append(flags, "-nodeargs="+*o.NodeArgs)
	}
	if o := runtime.Options; o.TSConfig != nil {
		flags = append(flags, "-tsconfig="+*o.TSConfig)
	}
	return flags
}

func findProject(dir string) string {
	for {
		for _, name := range projectFiles {
			file := filepath.Join(dir, name)
			if info, err := os.Stat(file); err == nil && info.Mode().IsRegular() {
				return file
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

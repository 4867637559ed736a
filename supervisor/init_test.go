package main

import (
	"fmt"
	"os"
	"testing"
)

func TestInitRefusesToStartWithoutASecret(t *testing.T) {
	for _, args := range [][]string{nil, {"--secret", ""}, {"--secret", "too-short"}, {"--config", "{}"}} {
		if code := runInit(args); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestInitRefusesToRunAsTheHostsUid(t *testing.T) {
	config := fmt.Sprintf(`{"controlUid":%d}`, os.Getuid())
	if code := runInit([]string{"--config", config, "--secret", "0123456789abcdef0123456789abcdef"}); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

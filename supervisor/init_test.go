package main

import (
	"fmt"
	"os"
	"testing"

	"sandfleet/supervisor/protocol"
)

func TestInitRefusesToStartWithoutASecret(t *testing.T) {
	for _, secret := range []string{"", "too-short"} {
		t.Setenv(protocol.SecretVariable, secret)
		if code := runInit(nil); code != 2 {
			t.Errorf("secret %q: exit %d, want 2", secret, code)
		}
	}
}

func TestInitRefusesToRunAsTheHostsUid(t *testing.T) {
	t.Setenv(protocol.SecretVariable, "0123456789abcdef0123456789abcdef")
	config := fmt.Sprintf(`{"controlUid":%d}`, os.Getuid())
	if code := runInit([]string{"--config", config}); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if _, present := os.LookupEnv(protocol.SecretVariable); present {
		t.Error("the secret stayed in the environment")
	}
}

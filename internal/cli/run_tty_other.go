//go:build !linux

package cli

import "github.com/buildwall/buildwall/internal/session"

// runTerminal: buildwall run's sandbox is Linux only; elsewhere there is
// no command to give a terminal to.
type runTerminal struct{}

func attachTerminal(*Env, *session.Options) (*runTerminal, error) { return &runTerminal{}, nil }

func (*runTerminal) restore() {}

//go:build !linux

package treefs

func forcePortable(*Root) {}

package jsonpos_test

import (
	"fmt"

	"github.com/buildwall/buildwall/internal/lockfile/jsonpos"
)

// Read the keys of an object with their positions, keeping only what is
// needed; everything else is validated and skipped.
func Example() {
	src := []byte("{\n  \"a\": {\"version\": \"1.0.0\", \"big\": [1, 2, 3]},\n  \"b\": {\"version\": \"2.0.0\"}\n}")
	d := jsonpos.NewDecoder(src, jsonpos.Options{})
	var arena jsonpos.Arena
	err := d.Object(func(key []byte) error {
		pos := d.KeyPos()
		name := arena.String(key) // keys alias the input: copy to keep
		return d.Object(func(field []byte) error {
			if string(field) != "version" {
				return nil // not consumed: skipped
			}
			v, err := d.String()
			fmt.Printf("%s@%s at %d:%d\n", name, v, pos.Line, pos.Column)
			return err
		})
	})
	if err == nil {
		err = d.End()
	}
	fmt.Println("error:", err)
	// Output:
	// a@1.0.0 at 2:3
	// b@2.0.0 at 3:3
	// error: <nil>
}

func ExampleOptions() {
	src := []byte("{\n  // JSONC, as in bun.lock\n  \"a\": [1, 2,],\n}")
	_, err := jsonpos.NewDecoder(src, jsonpos.Options{}).Peek()
	fmt.Println(err)
	d := jsonpos.NewDecoder(src, jsonpos.Options{AllowComments: true, AllowTrailingCommas: true})
	err = d.Skip()
	if err == nil {
		err = d.End()
	}
	fmt.Println(err)
	err = jsonpos.NewDecoder(src, jsonpos.Options{}).Skip()
	fmt.Println(err)
	// Output:
	// <nil>
	// <nil>
	// 2:3: unexpected character '/', expected a string key
}

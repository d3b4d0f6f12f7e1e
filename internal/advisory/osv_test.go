package advisory

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRecord(t *testing.T) {
	const mod = `"modified":"2026-01-01T00:00:00Z"`
	tests := []struct {
		name      string
		in        string
		wantErr   error // nil: must parse
		wantJSON  bool  // a JSON error (not ErrNotOSV)
		wantNames []string
	}{
		{name: "minimal", in: `{"id":"MAL-1",` + mod + `,"affected":[{"package":{"ecosystem":"npm","name":"a"}}]}`, wantNames: []string{"a"}},
		{name: "git_only_entry_dropped", in: `{"id":"MAL-1",` + mod + `,"affected":[{"ranges":[{"type":"GIT","repo":"https://git.example/r","events":[{"introduced":"0"}]}]},{"package":{"ecosystem":"npm","name":"b"}}]}`, wantNames: []string{"b"}},
		{name: "unknown_fields_ignored", in: `{"id":"MAL-1",` + mod + `,"credits":[{"name":"x"}],"future":{"a":1},"affected":[{"package":{"ecosystem":"npm","name":"a"},"ecosystem_specific":{}}]}`, wantNames: []string{"a"}},
		{name: "not_json", in: `{"id":`, wantJSON: true},
		{name: "trailing_data", in: `{"id":"MAL-1",` + mod + `,"affected":[{"package":{"ecosystem":"npm","name":"a"}}]} {}`, wantJSON: true},
		{name: "wrong_type", in: `{"id":1}`, wantJSON: true},
		{name: "no_id", in: `{` + mod + `,"affected":[{"package":{"ecosystem":"npm","name":"a"}}]}`, wantErr: ErrNotOSV},
		{name: "no_modified", in: `{"id":"MAL-1","affected":[{"package":{"ecosystem":"npm","name":"a"}}]}`, wantErr: ErrNotOSV},
		{name: "no_affected", in: `{"id":"MAL-1",` + mod + `}`, wantErr: ErrNotOSV},
		{name: "only_git_entries", in: `{"id":"MAL-1",` + mod + `,"affected":[{"ranges":[]}]}`, wantErr: ErrNotOSV},
		{name: "control_char_in_version", in: `{"id":"MAL-1",` + mod + `,"affected":[{"package":{"ecosystem":"npm","name":"a"},"versions":["1\n2"]}]}`, wantErr: ErrNotOSV},
		{name: "empty_event", in: `{"id":"MAL-1",` + mod + `,"affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{}]}]}]}`, wantErr: ErrNotOSV},
		{name: "other_json", in: `{"hello":"world"}`, wantErr: ErrNotOSV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecord([]byte(tt.in))
			switch {
			case tt.wantJSON:
				if err == nil || errors.Is(err, ErrNotOSV) {
					t.Fatalf("ParseRecord error = %v, want a JSON error", err)
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseRecord error = %v, want %v", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("ParseRecord: %v", err)
			}
			var names []string
			for _, a := range r.Affected {
				names = append(names, a.Package.Name)
			}
			if diff := cmp.Diff(tt.wantNames, names); diff != "" {
				t.Errorf("affected names mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsMalicious(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		want bool
	}{
		{"mal_id", `{"id":"MAL-2026-1","summary":"whatever"}`, true},
		{"buildwall_id", `{"id":"BUILDWALL-2026-0001"}`, true},
		{"ghsa_type_malware", `{"id":"GHSA-a","database_specific":{"type":"malware"}}`, true},
		{"ghsa_cwe_506", `{"id":"GHSA-a","database_specific":{"cwe_ids":["CWE-79","CWE-506"]}}`, true},
		{"affected_cwes_506", `{"id":"GHSA-a","affected":[{"package":{"ecosystem":"npm","name":"a"},"database_specific":{"cwes":[{"cweId":"CWE-506","name":"Embedded Malicious Code"}]}}]}`, true},
		{"summary_malicious_code", `{"id":"GHSA-a","summary":"Malicious code in foo (npm)"}`, true},
		{"summary_malware", `{"id":"PYSEC-1","summary":"Embedded malware in bar"}`, true},
		{"ordinary_vulnerability", `{"id":"GHSA-a","summary":"Prototype pollution","database_specific":{"cwe_ids":["CWE-1321"],"severity":"HIGH"}}`, false},
		{"malicious_input_is_not_malware", `{"id":"GHSA-a","summary":"Maliciously crafted input causes a crash"}`, false},
		{"type_reviewed", `{"id":"GHSA-a","database_specific":{"type":"reviewed"}}`, false},
		{"odd_database_specific", `{"id":"GHSA-a","database_specific":{"type":5,"cwe_ids":"CWE-506"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := jsonUnmarshal([]byte(tt.rec), &r); err != nil {
				t.Fatal(err)
			}
			if got := r.IsMalicious(); got != tt.want {
				t.Errorf("IsMalicious() = %v, want %v", got, tt.want)
			}
		})
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

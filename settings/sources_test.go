package settings_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/funcsignalr/funcsignalr/settings"
)

func TestReadSources(t *testing.T) {
	const localSettings = `{
  "IsEncrypted": false,
  "Values": {
    "FUNCTIONS_WORKER_RUNTIME": "custom",
    "AzureSignalRHubName": "fromfile",
    "Number": 42,
    "Flag": true,
    "Nothing": null
  },
  "ConnectionStrings": {"Other": "Endpoint=https://other.example"}
}`
	const dotEnv = "# comment\nAzureSignalRHubName=fromdotenv\nDOTENV_ONLY=\"quoted value\"\nexport EXPORTED=yes\n"

	tests := []struct {
		name       string
		files      map[string]string
		environ    []string
		standalone bool
		want       map[string]map[string]string // source name → pairs
	}{
		{
			name:       "standalone reads both files",
			files:      map[string]string{"local.settings.json": localSettings, ".env": dotEnv},
			environ:    []string{"A=1", "B=x=y", "=C:=C:\\", "NOEQUALS"},
			standalone: true,
			want: map[string]map[string]string{
				"environment": {"A": "1", "B": "x=y"},
				"local.settings.json": {"FUNCTIONS_WORKER_RUNTIME": "custom", "AzureSignalRHubName": "fromfile",
					"Number": "42", "Flag": "true", "ConnectionStrings:Other": "Endpoint=https://other.example"},
				".env": {"AzureSignalRHubName": "fromdotenv", "DOTENV_ONLY": "quoted value", "EXPORTED": "yes"},
			},
		},
		{
			name:    "under the host local.settings.json is not read",
			files:   map[string]string{"local.settings.json": localSettings, ".env": dotEnv},
			environ: []string{"FUNCTIONS_CUSTOMHANDLER_PORT=1234"},
			want: map[string]map[string]string{
				"environment": {"FUNCTIONS_CUSTOMHANDLER_PORT": "1234"},
				".env":        {"AzureSignalRHubName": "fromdotenv", "DOTENV_ONLY": "quoted value", "EXPORTED": "yes"},
			},
		},
		{
			name:       "missing files are fine",
			standalone: true,
			want: map[string]map[string]string{
				"environment": {}, "local.settings.json": {}, ".env": {},
			},
		},
		{
			name:       "malformed local.settings.json is skipped when not standalone",
			files:      map[string]string{"local.settings.json": "{not json"},
			standalone: false,
			want:       map[string]map[string]string{"environment": {}, ".env": {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, dir, name, []byte(content))
			}
			sources, err := settings.ReadSources(tt.environ, dir, tt.standalone)
			if err != nil {
				t.Fatalf("ReadSources: got error %v, want nil", err)
			}
			var names []string
			for _, s := range sources {
				names = append(names, s.Name)
				want, ok := tt.want[s.Name]
				if !ok {
					t.Errorf("got source %q, want none", s.Name)
					continue
				}
				if len(s.Pairs) != len(want) {
					t.Errorf("source %s: got %d pairs %v, want %d %v", s.Name, len(s.Pairs), s.Pairs, len(want), want)
				}
				for k, v := range want {
					if got := s.Pairs[k]; got != v {
						t.Errorf("source %s: got %s=%q, want %q", s.Name, k, got, v)
					}
				}
			}
			wantOrder := []string{"environment", "local.settings.json", ".env"}
			wantOrder = slices.DeleteFunc(wantOrder, func(n string) bool { _, ok := tt.want[n]; return !ok })
			if !slices.Equal(names, wantOrder) {
				t.Errorf("got sources %v, want %v", names, wantOrder)
			}
		})
	}
}

func TestReadSourcesDoesNotTouchProcessEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, ".env", []byte("FUNCSIGNALR_TEST_DOTENV=1\n"))
	writeFile(t, dir, "local.settings.json", []byte(`{"Values":{"FUNCSIGNALR_TEST_LOCAL":"1"}}`))
	t.Setenv("FUNCSIGNALR_TEST_PROCESS", "from-process")

	sources, err := settings.ReadSources([]string{"ONLY=this"}, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"FUNCSIGNALR_TEST_DOTENV", "FUNCSIGNALR_TEST_LOCAL"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("process environment: got %s=%q, want unset", k, v)
		}
	}
	if _, ok := sources[0].Pairs["FUNCSIGNALR_TEST_PROCESS"]; ok {
		t.Errorf("environment source: got FUNCSIGNALR_TEST_PROCESS from the process, want only the environ argument")
	}
}

func TestReadSourcesErrors(t *testing.T) {
	const secret = "Sup3rS3cretValueInFile"
	tests := []struct {
		name     string
		file     string
		content  string
		wantKey  string
		wantText []string
	}{
		{"malformed JSON", "local.settings.json", "{\n \"Values\": {\"X\": \"" + secret + "\",}\n}", "local.settings.json",
			[]string{"local.settings.json", "malformed JSON", "line 2"}},
		{"Values not an object", "local.settings.json", `{"Values": ["` + secret + `"]}`, "local.settings.json",
			[]string{"local.settings.json", "Values must be a JSON object, not array"}},
		{"not an object", "local.settings.json", `["` + secret + `"]`, "local.settings.json",
			[]string{"the file must be a JSON object, not array"}},
		{"value is an object", "local.settings.json", `{"Values": {"Nested": {"a": "` + secret + `"}}}`, "local.settings.json",
			[]string{"Values.Nested must be a string"}},
		{"encrypted", "local.settings.json", `{"IsEncrypted": true, "Values": {"X": "` + secret + `"}}`, "local.settings.json",
			[]string{"encrypted", "func settings decrypt"}},
		{"colon in a .env name", ".env", "A=1\nexport AzureSignalRConnectionString:serviceUri=" + secret + "\n", ".env",
			[]string{".env", "line 2", "AzureSignalRConnectionString__serviceUri"}},
		{"bad character in a .env name", ".env", "A-B=" + secret + "\n", ".env",
			[]string{".env", "a name holds a character"}},
		{"unterminated quote in .env", ".env", "KEY=\"" + secret + "\n", ".env",
			[]string{".env", "not terminated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, tt.file, []byte(tt.content))
			_, err := settings.ReadSources(nil, dir, true)
			checkError(t, err, tt.wantKey, append([]string{path}, tt.wantText...), []string{secret})
		})
	}
}

func TestReadSourcesKeepsGoodSourcesOnError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "local.settings.json", []byte("{broken"))
	writeFile(t, dir, ".env", []byte("FROM_DOTENV=1\n"))
	sources, err := settings.ReadSources([]string{"FROM_ENV=1"}, dir, true)
	checkError(t, err, "local.settings.json", nil, nil)
	var names []string
	for _, s := range sources {
		names = append(names, s.Name)
	}
	if want := []string{"environment", ".env"}; !slices.Equal(names, want) {
		t.Errorf("got sources %v, want %v", names, want)
	}
}

func TestReadSourcesUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be: reading fails with something other than not-exist.
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := settings.ReadSources(nil, dir, false)
	checkError(t, err, ".env", nil, nil)
}

func TestNewValuesPrecedence(t *testing.T) {
	env := settings.Source{Name: "environment", Pairs: map[string]string{
		"ONLY_ENV": "env", "IN_ALL": "env", "ENV_AND_LOCAL": "env", "EMPTY_IN_ENV": "",
	}}
	local := settings.Source{Name: "local.settings.json", Pairs: map[string]string{
		"ONLY_LOCAL": "local", "IN_ALL": "local", "ENV_AND_LOCAL": "local", "LOCAL_AND_DOTENV": "local", "EMPTY_IN_ENV": "local",
	}}
	dotenv := settings.Source{Name: ".env", Pairs: map[string]string{
		"ONLY_DOTENV": "dotenv", "IN_ALL": "dotenv", "LOCAL_AND_DOTENV": "dotenv",
	}}
	v := settings.NewValues(discardLogger(), env, local, dotenv)

	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"ONLY_ENV", "env", true},
		{"ONLY_LOCAL", "local", true},
		{"ONLY_DOTENV", "dotenv", true},
		{"IN_ALL", "env", true},
		{"ENV_AND_LOCAL", "env", true},
		{"LOCAL_AND_DOTENV", "local", true},
		{"EMPTY_IN_ENV", "local", true}, // an empty value is unset: it hides nothing
		{"NOWHERE", "", false},
	}
	for _, tt := range tests {
		got, _, ok := v.Get(tt.key)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Get(%q): got %q, %v, want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestReadSourcesThenNewValues(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "local.settings.json", []byte(`{"Values":{"AzureSignalRHubName":"local","A":"local","B":"local"}}`))
	writeFile(t, dir, ".env", []byte("AzureSignalRHubName=dotenv\nA=dotenv\nB=dotenv\nC=dotenv\n"))
	sources, err := settings.ReadSources([]string{"A=env"}, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	v := settings.NewValues(discardLogger(), sources...)
	for key, want := range map[string]string{"A": "env", "B": "local", "C": "dotenv", "azuresignalrhubname": "local"} {
		if got, _, _ := v.Get(key); got != want {
			t.Errorf("Get(%q): got %q, want %q", key, got, want)
		}
	}
}

func TestValuesKeySpellings(t *testing.T) {
	v := valuesOf(t,
		"AzureSignalRConnectionString__serviceUri", "https://a.example",
		"Section:Nested:Key", "nested",
		"CUSTOMCONNSTR_Portal", "Endpoint=https://portal.example;AccessKey=k",
	)
	tests := []struct {
		key, want, wantSpelling string
	}{
		{"AzureSignalRConnectionString__serviceUri", "https://a.example", "AzureSignalRConnectionString__serviceUri"},
		{"AzureSignalRConnectionString:serviceUri", "https://a.example", "AzureSignalRConnectionString__serviceUri"},
		{"azuresignalrconnectionstring:SERVICEURI", "https://a.example", "AzureSignalRConnectionString__serviceUri"},
		{"AZURESIGNALRCONNECTIONSTRING__SERVICEURI", "https://a.example", "AzureSignalRConnectionString__serviceUri"},
		{"section__nested__key", "nested", "Section:Nested:Key"},
		{"Section:Nested__Key", "nested", "Section:Nested:Key"},
		{"ConnectionStrings:Portal", "Endpoint=https://portal.example;AccessKey=k", "CUSTOMCONNSTR_Portal"},
	}
	for _, tt := range tests {
		got, spelling, ok := v.Get(tt.key)
		if !ok || got != tt.want || spelling != tt.wantSpelling {
			t.Errorf("Get(%q): got %q, %q, %v, want %q, %q, true", tt.key, got, spelling, ok, tt.want, tt.wantSpelling)
		}
	}
	var nilValues *settings.Values
	if _, _, ok := nilValues.Get("X"); ok {
		t.Errorf("nil Values: got ok, want not found")
	}
}

func TestNewValuesSpellingConflicts(t *testing.T) {
	const (
		valueA = "ValueNumberOne-1111"
		valueB = "ValueNumberTwo-2222"
	)
	tests := []struct {
		name         string
		sources      []settings.Source
		key          string // default p:serviceuri
		want         string
		wantSpelling string
		wantWarn     []string // substrings of the warnings
		warnings     int      // how many; default 1 when wantWarn is set
	}{
		{
			name: "within one source the __ form wins",
			sources: []settings.Source{{Name: "environment", Pairs: map[string]string{
				"P:serviceUri": valueA, "P__serviceUri": valueB}}},
			want: valueB, wantSpelling: "P__serviceUri",
			wantWarn: []string{"P__serviceUri (environment)", "P:serviceUri (environment)"},
		},
		{
			name: "within one source, case only",
			sources: []settings.Source{{Name: "environment", Pairs: map[string]string{
				"HUB": valueA, "hub": valueB}}},
			key: "Hub", want: valueA, wantSpelling: "HUB",
			wantWarn: []string{"HUB (environment)", "hub (environment)"},
		},
		{
			name: "environment wins over a file under another spelling",
			sources: []settings.Source{
				{Name: "environment", Pairs: map[string]string{"P:serviceUri": valueA}},
				{Name: "local.settings.json", Pairs: map[string]string{"P__serviceUri": valueB}},
			},
			want: valueA, wantSpelling: "P:serviceUri",
			wantWarn: []string{"P:serviceUri (environment)", "P__serviceUri (local.settings.json)"},
		},
		{
			name: "local.settings.json wins over .env under another spelling",
			sources: []settings.Source{
				{Name: "local.settings.json", Pairs: map[string]string{"p:SERVICEURI": valueA}},
				{Name: ".env", Pairs: map[string]string{"P__serviceUri": valueB}},
			},
			want: valueA, wantSpelling: "p:SERVICEURI",
			wantWarn: []string{"p:SERVICEURI (local.settings.json)", "P__serviceUri (.env)"},
		},
		{
			name: "a lower source with the higher's spelling and another one",
			sources: []settings.Source{
				{Name: "environment", Pairs: map[string]string{"P__serviceUri": valueA}},
				{Name: ".env", Pairs: map[string]string{"P__serviceUri": valueB, "p__SERVICEURI": valueB}},
			},
			want: valueA, wantSpelling: "P__serviceUri",
			wantWarn: []string{"P__serviceUri (environment)", "p__SERVICEURI (.env)"},
		},
		{
			name: "same value under two spellings: no warning",
			sources: []settings.Source{{Name: "environment", Pairs: map[string]string{
				"P:serviceUri": valueA, "P__serviceUri": valueA}}},
			want: valueA, wantSpelling: "P__serviceUri",
		},
		{
			name: "same spelling in two sources is a plain override: no warning",
			sources: []settings.Source{
				{Name: "environment", Pairs: map[string]string{"P__serviceUri": valueA}},
				{Name: ".env", Pairs: map[string]string{"P__serviceUri": valueB}},
			},
			want: valueA, wantSpelling: "P__serviceUri",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := captureLogger(t)
			v := settings.NewValues(logger, tt.sources...)
			key := tt.key
			if key == "" {
				key = "p:serviceuri"
			}
			got, spelling, _ := v.Get(key)
			if got != tt.want || spelling != tt.wantSpelling {
				t.Errorf("got %q spelled %q, want %q spelled %q", got, spelling, tt.want, tt.wantSpelling)
			}
			out := logs.String()
			wantN := tt.warnings
			if wantN == 0 && len(tt.wantWarn) > 0 {
				wantN = 1
			}
			if n := strings.Count(out, "level=WARN"); n != wantN {
				t.Errorf("got %d warnings %q, want %d", n, out, wantN)
			}
			checkText(t, "log", out, tt.wantWarn, []string{valueA, valueB})
		})
	}
}

package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/joho/godotenv"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// Names of the sources returned by ReadSources, as they appear in Source.Name
// and in warnings.
const (
	SourceEnvironment   = "environment"
	SourceLocalSettings = "local.settings.json"
	SourceDotEnv        = ".env"
)

// Values is the merged view of the app-setting sources (the environment,
// then local.settings.json standalone, then .env):
// keys match case-insensitively and "__" equals ":". Empty values count as
// unset, so an empty variable never hides a value from a lower source.
// A nil *Values holds nothing.
type Values struct {
	entries map[string]entry // normalized key → winning value
}

type entry struct {
	value    string
	spelling string // the key as the user wrote it
	source   string
}

// Source is one source of app settings, highest precedence first when
// passed to NewValues.
type Source struct {
	Name  string            // "environment", "local.settings.json", ".env"
	Pairs map[string]string // key as the user spelled it → value
}

// ReadSources returns the app-setting sources, highest first, for a process with the
// given environment (os.Environ form) and working directory.
// local.settings.json is read only when standalone; .env always.
//
// Missing files are not an error. A file that cannot be read or parsed is
// an *apierror.Error whose Key is the file name; its message names the path and
// never quotes the file's content. The other sources are still returned,
// so the caller can report the error and keep serving. The process
// environment is neither read nor changed: environ is the only view of it.
func ReadSources(environ []string, dir string, standalone bool) ([]Source, error) {
	env := Source{Name: SourceEnvironment, Pairs: make(map[string]string, len(environ))}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" { // Windows keeps "=C:=C:\\" style entries
			continue
		}
		env.Pairs[k] = v
	}
	sources := []Source{env}
	var errs []error
	add := func(name string, read func(string) (map[string]string, error)) {
		pairs, err := read(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			return
		}
		sources = append(sources, Source{Name: name, Pairs: pairs})
	}
	if standalone {
		add(SourceLocalSettings, readLocalSettings)
	}
	add(SourceDotEnv, readDotEnv)
	return sources, errors.Join(errs...)
}

// readLocalSettings reads the Values (and ConnectionStrings, which func
// start exposes as ConnectionStrings:<name>) of a local.settings.json file.
func readLocalSettings(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, apierror.Setting(SourceLocalSettings, fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err)))
	}
	var file struct {
		IsEncrypted       bool
		Values            map[string]json.RawMessage
		ConnectionStrings map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, apierror.Setting(SourceLocalSettings, fmt.Sprintf("malformed JSON in %s: %s", path, describeJSONError(data, err)))
	}
	if file.IsEncrypted {
		return nil, apierror.Setting(SourceLocalSettings, fmt.Sprintf(`%s is encrypted ("IsEncrypted": true); decrypt it with "func settings decrypt"`, path))
	}
	pairs := make(map[string]string, len(file.Values)+len(file.ConnectionStrings))
	add := func(section, prefix string, m map[string]json.RawMessage) error {
		for k, raw := range m {
			v, err := jsonSettingValue(raw)
			if err != nil {
				return apierror.Setting(SourceLocalSettings, fmt.Sprintf("%s: %s.%s must be a string", path, section, k))
			}
			if v != nil {
				pairs[prefix+k] = *v
			}
		}
		return nil
	}
	if err := add("ConnectionStrings", "ConnectionStrings:", file.ConnectionStrings); err != nil {
		return nil, err
	}
	if err := add("Values", "", file.Values); err != nil {
		return nil, err
	}
	return pairs, nil
}

// jsonSettingValue accepts what func start accepts in Values: strings, and
// numbers and booleans written without quotes. null is no value.
func jsonSettingValue(raw json.RawMessage) (*string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("null")):
		return nil, nil
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return &s, nil
	case len(raw) > 0 && (raw[0] == '{' || raw[0] == '['):
		return nil, errors.New("not a scalar")
	default: // number, true, false
		s := string(raw)
		return &s, nil
	}
}

// describeJSONError says where a JSON document is broken without quoting it.
func describeJSONError(data []byte, err error) string {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		line := 1 + bytes.Count(data[:min(int(syntax.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: %s", line, syntax.Error())
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		want := "value"
		switch typ.Type.Kind() {
		case reflect.Map, reflect.Struct:
			want = "object"
		case reflect.Bool:
			want = "boolean"
		}
		field := typ.Field
		if field == "" {
			field = "the file"
		}
		return fmt.Sprintf("%s must be a JSON %s, not %s", field, want, typ.Value)
	}
	return "not a JSON object"
}

// readDotEnv reads a .env file with godotenv without touching the process
// environment. godotenv's errors quote the file, so they are replaced.
func readDotEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, apierror.Setting(SourceDotEnv, fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err)))
	}
	// godotenv reads "KEY: value" as KEY=value, so KEY:child=value would
	// silently become KEY="child=value"; the colon form is a slip from
	// local.settings.json, so say so.
	for i, line := range strings.Split(string(data), "\n") {
		if m := colonKeyPattern.FindStringSubmatch(line); m != nil {
			return nil, apierror.Setting(SourceDotEnv, fmt.Sprintf(
				"%s line %d: write %s__%s, not %s:%s (in .env the separator is __)", path, i+1, m[1], m[2], m[1], m[2]))
		}
	}
	pairs, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		what := "syntax error"
		switch msg := err.Error(); {
		case strings.HasPrefix(msg, "unexpected character"):
			what = `a name holds a character other than letters, digits, "_" and "."`
		case strings.HasPrefix(msg, "unterminated quoted value"):
			what = "a quoted value is not terminated"
		}
		return nil, apierror.Setting(SourceDotEnv, fmt.Sprintf("cannot parse %s: %s", path, what))
	}
	return pairs, nil
}

// colonKeyPattern matches a .env line whose name uses ":" as a separator.
var colonKeyPattern = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z0-9_.]+):([A-Za-z0-9_.:]+)\s*=`)

// connStrPrefixes are the environment prefixes App Service uses for the
// portal's "Connection strings"; .NET configuration (and so the official
// bindings) reads CUSTOMCONNSTR_name as ConnectionStrings:name.
var connStrPrefixes = []string{"customconnstr_", "sqlazureconnstr_", "sqlconnstr_", "mysqlconnstr_"}

// normalizeKey maps every spelling of a key to one form: lower case, ":"
// as the separator.
func normalizeKey(k string) string {
	k = strings.ToLower(strings.ReplaceAll(k, "__", ":"))
	for _, p := range connStrPrefixes {
		if rest, ok := strings.CutPrefix(k, p); ok && rest != "" {
			return "connectionstrings:" + rest
		}
	}
	return k
}

// NewValues merges sources (highest precedence first), logging a warning
// through logger for each key spelled two ways with different values.
//
// Within one source the spelling with "__" wins (ties broken by byte
// order, so the result never depends on map order); across sources the
// higher source wins. Warnings name both keys and their sources, never a
// value. A nil logger means slog.Default().
func NewValues(logger *slog.Logger, sources ...Source) *Values {
	if logger == nil {
		logger = slog.Default()
	}
	v := &Values{entries: make(map[string]entry)}
	for _, src := range sources {
		bySetting := make(map[string][]string) // normalized key → spellings
		for k, val := range src.Pairs {
			if val == "" {
				continue
			}
			n := normalizeKey(k)
			bySetting[n] = append(bySetting[n], k)
		}
		for _, n := range sortedKeys(bySetting) {
			spellings := bySetting[n]
			sort.Slice(spellings, func(i, j int) bool {
				a, b := strings.Contains(spellings[i], "__"), strings.Contains(spellings[j], "__")
				if a != b {
					return a
				}
				return spellings[i] < spellings[j]
			})
			win := entry{value: src.Pairs[spellings[0]], spelling: spellings[0], source: src.Name}
			for _, other := range spellings[1:] {
				if src.Pairs[other] != win.value {
					warnSpelling(logger, win, entry{spelling: other, source: src.Name})
				}
			}
			if prev, ok := v.entries[n]; ok {
				for _, s := range spellings {
					if s != prev.spelling && src.Pairs[s] != prev.value {
						warnSpelling(logger, prev, entry{spelling: s, source: src.Name})
					}
				}
				continue
			}
			v.entries[n] = win
		}
	}
	return v
}

func warnSpelling(logger *slog.Logger, used, ignored entry) {
	logger.Warn("app setting spelled two ways with different values; one is ignored",
		slog.String("using", used.spelling+" ("+used.source+")"),
		slog.String("ignoring", ignored.spelling+" ("+ignored.source+")"))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Get returns the value of key and the spelling the user wrote it in.
// ok is false when the key is unset or empty in every source.
func (v *Values) Get(key string) (value, spelling string, ok bool) {
	if v == nil {
		return "", "", false
	}
	e, ok := v.entries[normalizeKey(key)]
	return e.value, e.spelling, ok
}

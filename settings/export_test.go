package settings

// Exported for the settings_test package only.
var ParseTimeout = parseTimeout

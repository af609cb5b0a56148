package detect

import "github.com/palisade-sec/palisade/internal/alert"

// injectionTypes is the alert type of each injection class (its name is
// "injection." + the class name: TestInjectionTypes).
var injectionTypes = [numInjClasses]alert.Type{
	ClassSQLi:          alert.InjectionSQLi,
	ClassXSS:           alert.InjectionXSS,
	ClassCmd:           alert.InjectionCmd,
	ClassPathTraversal: alert.InjectionPathTraversal,
	ClassNoSQL:         alert.InjectionNoSQL,
	ClassSSTI:          alert.InjectionSSTI,
	ClassXXE:           alert.InjectionXXE,
	ClassLDAP:          alert.InjectionLDAP,
	ClassCRLF:          alert.InjectionCRLF,
}

package classify

import "strings"

// fieldHint is what a field name says about its value.
type fieldHint struct {
	typ    string // built-in type suggested by the name, or ""
	detail string
	norm   string // normalized name (lower-case alphanumerics)
	// idLike: the name says the value is an identifier, counter or amount
	// (order_id, timestamp, total…): a bare number in it is not a card,
	// SSN or phone number.
	idLike bool
}

var idWords = map[string]bool{"id": true, "ids": true, "uuid": true, "guid": true, "ref": true, "reference": true, "timestamp": true, "ts": true,
	"seq": true, "sequence": true, "nonce": true, "hash": true, "checksum": true, "version": true, "count": true, "total": true, "amount": true,
	"price": true, "size": true, "offset": true, "epoch": true, "millis": true, "ms": true, "revision": true, "sku": true, "code": true}

// splitWords splits a key name into lower-case words at separators and
// camelCase boundaries: "dateOfBirth" → date of birth, "customer_email" →
// customer email, "$.user.ssn" → user ssn.
func splitWords(s string) []string {
	var words []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			if i > 0 && (s[i-1] >= 'a' && s[i-1] <= 'z' || i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z' && s[i-1] >= 'A' && s[i-1] <= 'Z') {
				flush()
			}
			cur = append(cur, c+32)
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			cur = append(cur, c)
		case c >= 0x80:
			cur = append(cur, c)
		default:
			flush()
		}
	}
	flush()
	return words
}

// normField lower-cases and keeps letters and digits only.
func normField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 32)
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		}
	}
	return b.String()
}

// lastKey returns the last key of a JSON path ("$.a[*].b" → "b").
func lastKey(field string) string {
	f := strings.TrimSuffix(field, "[*]")
	for strings.HasSuffix(f, "[*]") {
		f = strings.TrimSuffix(f, "[*]")
	}
	if i := strings.LastIndexAny(f, ".["); i >= 0 {
		f = strings.Trim(f[i+1:], "'\"]")
	}
	return f
}

var secretNames = map[string]string{
	"password": "password", "passwd": "password", "pwd": "password", "pass": "password", "passphrase": "password",
	"pswd": "password", "userpassword": "password", "newpassword": "password", "oldpassword": "password", "currentpassword": "password",
	"passwordhash": "password_hash", "hashedpassword": "password_hash",
	"secret": "secret", "clientsecret": "client_secret", "apisecret": "api_secret", "appsecret": "app_secret",
	"webhooksecret": "webhook_secret", "signingsecret": "webhook_secret", "sharedsecret": "secret", "secretkey": "secret_key",
	"token": "token", "accesstoken": "access_token", "refreshtoken": "refresh_token", "idtoken": "id_token",
	"authtoken": "token", "sessiontoken": "session_token", "apitoken": "api_key", "bearertoken": "token", "csrftoken": "",
	"apikey": "api_key", "xapikey": "api_key", "privatekey": "private_key", "accesskey": "access_key",
	"secretaccesskey": "aws_secret_key", "awssecretaccesskey": "aws_secret_key", "signingkey": "signing_key",
	"encryptionkey": "encryption_key", "masterkey": "master_key", "credentials": "credential", "credential": "credential",
	"sessionid": "session_id", "sessid": "session_id", "connectionstring": "connection_string", "otp": "otp", "pin": "pin", "cvv": "card_cvv", "cvc": "card_cvv",
}

// wordsNotSecret: a name ending in one of these describes a secret without holding one.
var wordsNotSecret = map[string]bool{
	"type": true, "types": true, "policy": true, "length": true, "len": true, "expiry": true, "expires": true, "exp": true,
	"hint": true, "required": true, "enabled": true, "changed": true, "at": true, "url": true, "uri": true, "endpoint": true,
	"name": true, "id": true, "count": true, "strength": true, "in": true, "ttl": true, "format": true, "prefix": true, "last4": true,
	"set": true, "present": true, "valid": true, "status": true, "version": true, "algorithm": true, "alg": true, "kind": true, "field": true,
}

var addressExclude = map[string]bool{"email": true, "mail": true, "ip": true, "mac": true, "wallet": true, "remote": true, "server": true, "host": true, "web": true, "url": true, "contract": true, "eth": true, "btc": true, "crypto": true, "public": true, "ipv4": true, "ipv6": true, "local": true, "bind": true, "listen": true, "peer": true, "gateway": true}

var nameFields = map[string]bool{
	"firstname": true, "lastname": true, "surname": true, "fullname": true, "givenname": true, "familyname": true, "middlename": true,
	"cardholdername": true, "holdername": true, "cardholder": true, "accountholder": true, "accountholdername": true, "customername": true,
	"contactname": true, "patientname": true, "employeename": true, "personname": true, "legalname": true, "maidenname": true, "fname": true, "lname": true,
}

// fieldHintOf interprets a field name (a key or a JSON path).
func fieldHintOf(field string) fieldHint {
	if field == "" {
		return fieldHint{}
	}
	key := lastKey(field)
	n := normField(key)
	h := fieldHint{norm: n}
	if n == "" {
		return h
	}
	words := splitWords(key)
	last := ""
	if len(words) > 0 {
		last = words[len(words)-1]
	}
	h.idLike = idWords[last]
	has := func(w string) bool {
		for _, x := range words {
			if x == w {
				return true
			}
		}
		return false
	}
	switch {
	case n == "dob" || n == "dateofbirth" || n == "birthdate" || n == "birthday" || n == "bday" || n == "birthdt" || strings.Contains(n, "birth") && (has("date") || has("day") || has("dt")):
		h.typ = TypeDOB
	case has("ssn") || strings.Contains(n, "socialsecurity"):
		h.typ = TypeSSN
	case has("iban"):
		h.typ = TypeIBAN
	case has("passport") || n == "passportno" || n == "passportnumber":
		h.typ = TypePassport
	case strings.Contains(n, "cardnumber") || strings.Contains(n, "creditcard") || n == "ccnumber" || n == "ccnum" || n == "cardno" || n == "pan" || n == "cc" || n == "primaryaccountnumber":
		h.typ = TypeCard
	case has("email") || has("mail") || n == "emailaddress":
		h.typ = TypeEmail
	case has("phone") || has("mobile") || has("tel") || has("telephone") || has("fax") || has("msisdn") || has("cell") || has("cellphone") || n == "phonenumber" || has("whatsapp"):
		h.typ = TypePhone
	case n == "ip" || has("ip") || strings.HasSuffix(n, "ipaddress") || n == "remoteaddr" || n == "clientip" || n == "xforwardedfor" || n == "xrealip":
		h.typ = TypeIP
	case nameFields[n]:
		h.typ = TypePersonName
	}
	if h.typ != "" {
		return h
	}
	if (has("address") || has("addr") || has("street") || strings.Contains(n, "addressline") || n == "streetaddress") && !anyIn(words, addressExclude) {
		h.typ = TypeAddress
		return h
	}
	// Secrets: the whole name or its last one or two words.
	if wordsNotSecret[last] && len(words) > 1 {
		return h
	}
	for _, cand := range []string{n, last, pair(words)} {
		if d, ok := secretNames[cand]; ok && cand != "" {
			if d == "" {
				return h
			}
			h.typ, h.detail = TypeSecret, d
			return h
		}
	}
	if strings.HasSuffix(n, "password") || strings.HasSuffix(n, "secret") || strings.HasSuffix(n, "apikey") || strings.HasSuffix(n, "privatekey") || strings.HasSuffix(n, "accesstoken") || strings.HasSuffix(n, "authtoken") {
		h.typ, h.detail = TypeSecret, "keyed"
	}
	return h
}

func pair(words []string) string {
	if len(words) < 2 {
		return ""
	}
	return words[len(words)-2] + words[len(words)-1]
}

func anyIn(words []string, set map[string]bool) bool {
	for _, w := range words {
		if set[w] {
			return true
		}
	}
	return false
}

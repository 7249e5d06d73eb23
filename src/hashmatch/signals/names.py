"""The built-in signal types' names, for code outside ``signals/`` that needs
a default (which type a bare 64-digit hash is read as, say) without importing
the type itself (and its compiled kernels)."""

PDQ = "pdq"
VPDQ = "vpdq"
MD5 = "md5"
SHA256 = "sha256"
URL = "url"
EMAIL = "email"
USERNAME = "username"
KEYWORD = "keyword"

"""What a history holds and how much of it a page may show: plain values,
so that the CLI can name them without loading the database layer."""

#: The kinds of entry; at one moment, later in this tuple is shown first
#: (a submission above its own matches).
KINDS = ("statement", "appeal", "report", "review", "match", "submission")
#: Entries per page, at most.
MAX_PAGE = 500
#: A user_ref is as long as its column.
USER_REF_CHARS = 200

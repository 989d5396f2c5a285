"""Names of columns and codes used across modules, in one place."""

from __future__ import annotations

# Canonical fields a manifest may map (brief: "A source manifest").
PHONE = "phone"
CANONICAL_FIELDS: tuple[str, ...] = (
    "phone",
    "name",
    "customer_id",
    "contract_status",
    "contract_end",
    "consent_marketing",
    "consent_third_party",
    "consent_date",
    "consent_channel",
    "consent_proof",
    "consent_collector",
    # The consent's evidence (code of conduct art. 6): where, when, how, on which wording
    # and for which sectors the person consented.
    "consent_ip",
    "consent_at",
    "consent_method",
    "consent_text_id",
    "consent_sectors",
)
# [policy] consent_evidence words and the fields they ask for.
EVIDENCE_FIELDS = {"proof": "consent_proof", "ip": "consent_ip", "at": "consent_at",
                   "method": "consent_method", "text": "consent_text_id"}
BOOLEAN_FIELDS = ("consent_marketing", "consent_third_party")
DATE_FIELDS = ("contract_end", "consent_date")
CONTRACT_STATUSES = ("active", "ceased")

SOURCE_KINDS = ("internal_archive", "third_party", "public_directory")
PURPOSES = ("telemarketing", "survey")
OPTOUT_SCOPES = ("all", "telemarketing", "survey")
OPTOUT_CHANNELS = ("operator", "email", "letter", "web", "api")

# What an erasure blanks in every stored row of a number (GDPR art. 17): the row stays,
# with its source, row number, validity and type, so counts still add up.
PERSONAL_FIELDS = ("raw", "phone", "phone_key", "name", "customer_id", "contract_status",
                   "contract_end", "consent_marketing", "consent_third_party",
                   "consent_date", "consent_channel", "consent_proof", "consent_collector",
                   "consent_ip", "consent_at", "consent_method", "consent_text_id",
                   "consent_sectors")

# Normalised phone columns added to every row.
E164 = "phone"  # E.164 when valid, else null
RAW = "raw"
VALID = "valid"
REGION = "region"
NUMBER_TYPE = "number_type"
ROW = "row"
SOURCE_ID = "source_id"
SOURCE_VERSION = "source_version"
# What the load repaired in a row's number (null: read as it stands); the raw value stays.
REPAIRED = "repaired"
LEADING_ZERO = "leading_zero"  # a landline stored as a number, read with its 0 again

# Number types as phonenumbers names them, lower case.
DIALABLE_TYPES = ("fixed_line", "mobile", "fixed_line_or_mobile")

"""The fields of each admin form, in the order they are shown.

Names match the model attributes they edit, so ``forms.form_values`` can
fill an edit form straight from a row. Limits follow ``scheduler.city_file``
so a record saved here can always be exported to, and re-imported from, YAML.
"""

from __future__ import annotations

from app.admin.forms import SLUG_HINT, Field

MAX_MINUTES = 7 * 24 * 60  # a week, the city file's limit for notice and cut-off

CITY = (
    Field("name_ja", "Name (Japanese)", required=True, max_length=100),
    Field("name_en", "Name (English)", required=True, max_length=100),
    Field(
        "close_public_holidays",
        "Closed on Japanese public holidays",
        "bool",
        hint="Substitute holidays included.",
    ),
    Field("close_year_end", "Closed at the year end (12/29–1/3)", "bool"),
)

DEPARTMENT = (
    Field("slug", "Slug", required=True, max_length=60, pattern="slug", hint=SLUG_HINT),
    Field("name_ja", "Name (Japanese)", required=True, max_length=100),
    Field("name_en", "Name (English)", required=True, max_length=100),
    Field("description_ja", "Description (Japanese)", "textarea", max_length=2000),
    Field("description_en", "Description (English)", "textarea", max_length=2000),
    Field("sort_order", "Sort order", "int", minimum=-1000, maximum=1000),
)

SERVICE = (
    Field("department_id", "Department", "select", required=True),
    Field("slug", "Slug", required=True, max_length=60, pattern="slug", hint=SLUG_HINT),
    Field("name_ja", "Name (Japanese)", required=True, max_length=120),
    Field("name_en", "Name (English)", required=True, max_length=120),
    Field(
        "description_ja",
        "What to prepare (Japanese)",
        "textarea",
        max_length=2000,
        hint="Plain words: what the resident should have at hand.",
    ),
    Field("description_en", "What to prepare (English)", "textarea", max_length=2000),
    Field("duration_min", "Duration (minutes)", "int", required=True, minimum=5, maximum=480),
    Field("buffer_before_min", "Buffer before (minutes)", "int", minimum=0, maximum=240),
    Field(
        "buffer_after_min",
        "Buffer after (minutes)",
        "int",
        minimum=0,
        maximum=240,
        hint="Time kept free after each call, e.g. to write up notes.",
    ),
    Field(
        "slot_step_min",
        "Start times every (minutes)",
        "int",
        minimum=5,
        maximum=480,
        blank_is_none=True,
        hint="Leave blank to use the duration plus buffers.",
    ),
    Field("channels", "Channels", "multi", required=True),
    Field(
        "min_notice_min",
        "Minimum notice (minutes)",
        "int",
        minimum=0,
        maximum=MAX_MINUTES,
        hint="How long before the start a booking can still be made.",
    ),
    Field("horizon_days", "Booking horizon (days)", "int", minimum=1, maximum=730),
    Field(
        "daily_cap",
        "Daily cap",
        "int",
        minimum=1,
        maximum=1000,
        blank_is_none=True,
        hint="Most bookings per day for this service; blank for no cap.",
    ),
    Field(
        "change_cutoff_min",
        "Changes close (minutes before)",
        "int",
        minimum=0,
        maximum=MAX_MINUTES,
        hint="Residents can change or cancel online until this long before the start.",
    ),
    Field("active", "Offered (active)", "bool"),
    Field("sort_order", "Sort order", "int", minimum=-1000, maximum=1000),
    Field(
        "rush",
        "Opening-day rush: residents queue before booking",
        "bool",
        hint="For a popular service opening at a set time (a subsidy, a vaccination): "
        "residents take a place in a queue and are let in to book in the order they arrived.",
    ),
    Field(
        "rush_opens_at",
        "Bookings open at",
        "datetime",
        max_length=40,
        hint="Leave blank to open the queue now. Before this time residents see the opening time.",
    ),
)

STAFF_COMMON = (
    Field(
        "login",
        "Login ID",
        required=True,
        max_length=60,
        pattern="login",
        hint="Lower-case letters, digits, dots, hyphens and underscores.",
    ),
    Field("display_name", "Display name", required=True, max_length=100, autocomplete="name"),
    Field("email", "Email", max_length=200, pattern="email", blank_is_none=True),
    Field("departments", "Departments", "multi"),
    Field("skills", "Skills (services this person can handle)", "multi"),
    Field("is_admin", "Administrator", "bool"),
    Field("active", "Active (can log in and take calls)", "bool"),
)

STAFF_NEW = (
    *STAFF_COMMON[:3],
    Field(
        "password",
        "Initial password",
        "password",
        required=True,
        max_length=200,
        autocomplete="new-password",
        hint="At least 10 characters. Tell it to the person in a safe way.",
    ),
    *STAFF_COMMON[3:],
)

STAFF_EDIT = (
    *STAFF_COMMON[:3],
    Field(
        "password",
        "New password",
        "password",
        max_length=200,
        autocomplete="new-password",
        hint="Leave blank to keep the current password.",
    ),
    *STAFF_COMMON[3:],
)

BRANCH = (
    Field("slug", "Slug", required=True, max_length=60, pattern="slug", hint=SLUG_HINT),
    Field("name_ja", "Name (Japanese)", required=True, max_length=100),
    Field("name_en", "Name (English)", required=True, max_length=100),
    Field("address", "Address", max_length=300),
    Field(
        "address_en",
        "Address (English)",
        max_length=300,
        hint="Shown on English pages; left empty, they show the Japanese address.",
    ),
)

KIOSK = (
    Field("branch_id", "Branch", "select", required=True),
    Field("slug", "Slug", required=True, max_length=60, pattern="slug", hint=SLUG_HINT),
    Field("name", "Name", required=True, max_length=100, hint="As staff see it, e.g. 北支所1号機."),
    Field(
        "name_en",
        "Name (English)",
        max_length=100,
        hint="Shown on English pages; left empty, they show the Japanese name.",
    ),
    Field("active", "Active", "bool"),
)

OVERRIDE = (
    Field("day", "Date", "date", required=True),
    Field(
        "hours",
        "Hours on that date",
        max_length=200,
        hint="Blank closes the whole day. Or write the day's hours, like 09:00-12:00.",
    ),
    Field("note", "Note", max_length=200),
)

CLOSURE = (
    Field("day", "Date", "date", required=True),
    Field("note", "Note", max_length=200, hint="E.g. election day, system maintenance."),
)

LEAVE = (
    Field("start", "From", "datetime", required=True, max_length=40),
    Field("end", "Until", "datetime", required=True, max_length=40),
    Field("note", "Note", max_length=200),
)

INTERPRETER_LANGUAGE_EDIT = (
    Field("name_ja", "Name (Japanese)", required=True, max_length=100),
    Field("name_en", "Name (English)", required=True, max_length=100),
    Field(
        "name_native",
        "Name in the language itself",
        required=True,
        max_length=100,
        hint="Shown on the kiosk's button, e.g. Português, 中文, Tiếng Việt, 手話.",
    ),
    Field("sort_order", "Sort order", "int", minimum=-1000, maximum=1000),
    Field("active", "Offered (active)", "bool"),
)

INTERPRETER_LANGUAGE_NEW = (
    Field(
        "code",
        "Language code",
        required=True,
        max_length=20,
        pattern="slug",
        hint="Short and fixed once saved, e.g. pt, zh, vi; jsl for Japanese Sign Language.",
    ),
    *INTERPRETER_LANGUAGE_EDIT,
)

INTERPRETER = (
    Field("slug", "Slug", required=True, max_length=60, pattern="slug", hint=SLUG_HINT),
    Field("name", "Name", required=True, max_length=100, autocomplete="name"),
    Field(
        "email",
        "Email",
        max_length=200,
        pattern="email",
        blank_is_none=True,
        hint="Called interpreters get the link to join by mail.",
    ),
    Field("locale", "Language of the mails", "select", required=True),
    Field("languages", "Interpreting languages", "multi", required=True),
    Field(
        "weekly_hours",
        "Weekly hours",
        "textarea",
        max_length=1000,
        hint="One line per working day, like: mon 09:00-12:00, 13:00-17:00",
    ),
    Field("active", "Active (can be booked and called)", "bool"),
)

"""Every knob in one place.

Precedence, highest first: arguments to :func:`load_settings`, ``KETABOT_*``
environment variables, the clinic config file (``ketabot.toml``, or the path in
``KETABOT_CONFIG``), then the defaults below. Thresholds live here too; the
values are the ones chosen from the tuning split of ``eval/`` (see README,
"Evaluation").
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ketabot.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("ketabot.toml")
# The thresholds chosen on the tuning split (`ketabot eval --tune` writes a file like it).
SHIPPED_PRESET = Path(__file__).parent / "presets" / "default.toml"
# Example questions are buttons on the page and suggestions in replies: a line, not an essay.
MAX_EXAMPLE_CHARS = 200

# scheme://host[:port], where the host may start with "*." and the port may be "*"
_ORIGIN = re.compile(r"https?://(?:\*\.)?[A-Za-z0-9.-]+(?::(?:\d{1,5}|\*))?")
# "+1 555 0100", "(555) 014 2200", "555-0100 x3", "555.0100 ext. 12": at least three digits.
_PHONE = re.compile(
    r"^(?=[^xe]*(?:[^\dxe]*\d){3})\+?[0-9( ][0-9 ()\-.]{1,24}"
    r"(?:\s*(?:x|ext\.?|extension)\s*[0-9]{1,6})?$",
    re.IGNORECASE,
)

DEFAULT_EXAMPLES = [
    "How does ketamine work for nerve pain?",
    "What side effects can ketamine infusions cause?",
    "Who should not receive ketamine therapy?",
    "Why is the dose controlled so carefully during an infusion?",
]


class Clinic(BaseModel):
    """What a clinic sets about itself in ``[clinic]`` of ``ketabot.toml``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field("", description="Clinic name shown on the page and in refusals.")
    phone: str = Field("", description="Care-team phone number patients should call.")
    website: str = Field("", description="Clinic website (http or https URL).")
    emergency_number: str = Field("911", description="Local emergency number.")
    crisis_line: str = Field("988", description="Suicide and crisis line.")
    poison_control: str = Field(
        "1-800-222-1222", description="Poison control number, shown for ingestions."
    )
    extra_disclaimer: str = Field(
        "", description="A sentence added after (never instead of) the mandatory disclaimer."
    )
    page_title: str = Field(
        "ketabot: questions about ketamine for nerve pain", description="Browser tab and heading."
    )
    language: str = Field("en", description="The page's language tag (BCP 47).")
    example_questions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXAMPLES), description="Starter questions."
    )
    store_feedback: bool = Field(True, description="Keep helpful/not-helpful ratings locally.")
    store_question: bool = Field(
        False,
        description="Also keep the question text with feedback and content gaps (it may hold "
        "health data).",
    )
    record_gaps: bool = Field(
        True,
        description="Count the topics of questions the sources do not answer, for `ketabot "
        "gaps` (only listed topic words are kept unless store_question is on).",
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and not _PHONE.match(value.strip()):
            raise ValueError(
                f"{value!r} is not a phone number (digits, spaces, + ( ) - ., then x or ext. and"
                " an extension if needed)"
            )
        return value.strip()

    @field_validator("emergency_number", "crisis_line", "poison_control")
    @classmethod
    def _short_number(cls, value: str) -> str:
        value = value.strip()
        if not _PHONE.match(value) and not re.fullmatch(r"[0-9]{2,6}", value):
            raise ValueError(f"{value!r} is not a number a patient can dial")
        return value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^\s/]+\.[^\s]+$", value.strip()):
            raise ValueError(f"{value!r} must be a full http:// or https:// address")
        return value.strip()

    @field_validator("extra_disclaimer", "page_title", "name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if len(value) > 300 or "\n" in value.strip():
            raise ValueError("must be one line of at most 300 characters")
        return value.strip()

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", value.strip()):
            raise ValueError(f"{value!r} is not a language tag such as en or en-US")
        return value.strip()

    @field_validator("example_questions")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        cleaned = [q.strip() for q in value if q.strip()]
        if len(cleaned) > 8:
            raise ValueError("at most 8 example questions")
        if any(len(q) > MAX_EXAMPLE_CHARS for q in cleaned):
            raise ValueError(f"an example question is longer than {MAX_EXAMPLE_CHARS} characters")
        return cleaned

    @property
    def contact(self) -> str:
        """How to reach the care team, in words, or "" when the clinic has not said."""
        if self.name and self.phone:
            return f"{self.name} at {self.phone}"
        return self.name or (f"call {self.phone}" if self.phone else "")


class Input(BaseModel):
    """Limits on what a question may be (``[input]``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_question_chars: int = Field(1000, ge=50, description="Longest question accepted.")
    max_history_turns: int = Field(6, ge=0, description="Earlier turns used for follow-ups.")


class Retrieval(BaseModel):
    """Search and quoting (``[retrieval]``); the floors come from the tuning preset."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    candidates: int = Field(20, ge=1, description="Dense and lexical candidates before fusion.")
    lexical_numba_from: int = Field(
        20_000, ge=1, description="From this many chunks, BM25 runs compiled (numba)."
    )
    fusion: Literal["convex", "rrf"] = Field(
        "convex", description="How dense and lexical rankings are combined."
    )
    dense_weight: float = Field(
        0.8, ge=0, le=1, description="Weight of cosine similarity in convex fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    # 40 measured on blind answer rounds 2-4: 10 left the answering sentence outside the
    # passages read in 15 of 35 misses of round 4; 40 answered 3-6 more per round, and the
    # model scores a sentence in microseconds, so p50 stayed about 31-34 ms.
    passages: int = Field(
        40, ge=1, description="Fused passages whose sentences the answerability model reads."
    )
    relevance_floor: float = Field(
        ge=0.05,
        le=0.9,
        description="Below this best cosine similarity no passage is worth reading (tuned).",
    )
    answer_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Least probability, by the answerability model, for a sentence to be "
        "quoted; none clearing it means 'not found'. Unset: the model's own threshold.",
    )
    max_quotes: int = Field(3, ge=1, le=8, description="Most quotes in one answer.")
    max_quote_chars: int = Field(600, ge=200, description="Most quoted characters per answer.")


class Triage(BaseModel):
    """The semantic safety backstops (``[triage]``); every value comes from the tuning preset."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # Bounded so a typo cannot switch a safety backstop off: above 0.9 no exemplar ever
    # counts, and the tuning grid spans 0.45-0.85.
    refusal_floor: float = Field(
        ge=0.3,
        le=0.9,
        description="Least similarity to a dosing or illicit exemplar for it to count.",
    )
    refusal_margin: float = Field(
        ge=-0.2,
        le=0.3,
        description="How much closer to a refusal exemplar than to an education one.",
    )
    topic_floor: float = Field(
        ge=0.0, le=0.6, description="Below this similarity to the topic the question is off-topic."
    )


class Web(BaseModel):
    """The chat page's server (``[web]``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    host: str = Field("127.0.0.1", description="Web server address.")
    port: int = Field(7860, ge=1, le=65535, description="Web server port.")
    root_path: str = Field("", description="Path prefix when served behind a reverse proxy.")
    queue_size: int = Field(64, ge=1, description="Requests allowed to wait in the web queue.")
    concurrency: int = Field(2, ge=1, description="Requests answered at once by the web app.")
    embed_origins: list[str] = Field(
        default_factory=list,
        description="Sites allowed to show the chat in a frame (CSP frame-ancestors), such as "
        '"https://www.clinic.example"; empty: only the chat\'s own address.',
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers to (the Host header); empty: this "
        "machine's loopback names and the configured host. Add the public name behind a proxy.",
    )
    max_header_bytes: int = Field(
        16_384, ge=1024, le=1_048_576, description="Largest request header block accepted."
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=16_384,
        le=16_777_216,
        description="Largest body of a call to the page or the API (the page sends the "
        "conversation so far with each question).",
    )
    direct_limit: int = Field(
        8,
        ge=1,
        le=256,
        description="Calls answered at once outside the queue, for the API and for the page "
        "each; above it the API still answers emergencies and tells the rest to retry (503).",
    )

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin such as https://www.clinic.example")
        return value


class Api(BaseModel):
    """The JSON API at ``/api/v1`` (``[api]``): its workers and its fair-use limit."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    workers: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads answering API questions at once; 0: four per CPU core (while "
        "one waits for the embedding model, which encodes waiting questions together, "
        "another runs).",
    )
    max_waiting: int = Field(
        64,
        ge=1,
        le=10_000,
        description="API questions allowed to wait for a worker; above it the emergency check "
        "still answers an emergency and the rest are told to retry (503).",
    )
    requests_per_minute: int = Field(
        60,
        ge=0,
        le=100_000,
        description="Questions one client may ask per minute, on average (0: no limit). A "
        "client is known only by a salted hash of its address that changes daily.",
    )
    burst: int = Field(
        20, ge=1, le=10_000, description="Questions one client may ask at once before the limit."
    )


def default_model_cache() -> Path:
    """Where exported model graphs are kept unless ``KETABOT_MODEL_CACHE`` says otherwise."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ketabot"


class Settings(BaseSettings):
    """ketabot's settings: ``KETABOT_<NAME>``, ``KETABOT_<SECTION>__<NAME>`` or ``ketabot.toml``."""

    model_config = SettingsConfigDict(
        env_prefix="KETABOT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    config: Path | None = Field(None, description="Clinic config file (TOML).")
    preset: Path | None = Field(
        None,
        description="A tuning preset (TOML, as written by `ketabot eval --tune`) that overrides "
        "the shipped one.",
    )
    home: Path = Field(Path(".ketabot"), description="Folder for the embedded index.")
    corpus: Path = Field(Path("corpus"), description="Folder of source documents.")
    max_document_mb: float = Field(
        20.0,
        gt=0,
        description="Largest corpus file read (MB); a larger one is named and left out.",
    )
    embed_model: str = Field(
        "", description="Embedding model folder or name; empty means the bundled MiniLM."
    )
    embed_runtime: Literal["onnx", "torch"] = Field(
        "onnx",
        description="How the embedding model runs: as an ONNX graph exported once into "
        "model_cache (starts seconds sooner, same vectors), or on PyTorch.",
    )
    model_cache: Path = Field(
        default_factory=default_model_cache,
        description="Folder for the embedding model's exported ONNX graph (about 90 MB).",
    )
    chroma_url: str | None = Field(
        None, description="Chroma server (http://HOST:PORT); unset means embedded."
    )
    collection: str = Field("ketabot", description="Chroma collection name prefix.")
    index_check_seconds: float = Field(
        2.0,
        ge=0.0,
        le=3600.0,
        description="How often, at most, a running bot looks for a newer index generation "
        "(seconds; 0: before every question). An ingest is then answered from without restart.",
    )
    feedback_file: Path = Field(
        Path(".ketabot/feedback.jsonl"),
        description="Feedback file of earlier versions: imported into the database once.",
    )
    database_url: str = Field(
        "",
        description="Where feedback is kept: an SQLAlchemy URL such as "
        "postgresql+psycopg://user@host/db for replicas on several hosts; empty: an SQLite "
        "file in the home folder (safe for several processes on one host).",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text or as one JSON object each (never a question)."
    )

    input: Input = Field(default_factory=Input, description="Limits on questions.")
    retrieval: Retrieval = Field(description="Search and quoting.")
    triage: Triage = Field(description="The semantic safety backstops.")
    web: Web = Field(default_factory=Web, description="The chat page's server.")
    api: Api = Field(default_factory=Api, description="The JSON API.")
    clinic: Clinic = Field(default_factory=Clinic, description="The clinic's own details.")

    @property
    def max_document_bytes(self) -> int:
        """``max_document_mb`` in bytes, as the corpus reader checks it."""
        return int(self.max_document_mb * 1e6)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, environment, the clinic config file, a chosen preset, the shipped preset."""
        init = getattr(init_settings, "init_kwargs", {})
        path = config_path(init.get("config"))
        preset = init.get("preset") or os.environ.get("KETABOT_PRESET")
        files = [p for p in (path, preset, SHIPPED_PRESET) if p is not None]
        return (
            init_settings,
            env_settings,
            *(TomlConfigSettingsSource(settings_cls, toml_file=Path(f)) for f in files),
        )


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The clinic config file in use: explicit, ``KETABOT_CONFIG``, or ``./ketabot.toml``."""
    chosen = explicit or os.environ.get("KETABOT_CONFIG")
    if chosen:
        return Path(chosen)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a bad value raises :class:`ConfigError` naming it."""
    path = config_path(overrides.get("config"))
    for chosen in (path, overrides.get("preset") or os.environ.get("KETABOT_PRESET")):
        if chosen is not None:
            _check_toml(Path(chosen))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        where = str(path) if path is not None else "settings"
        problems = "; ".join(_problem(err, overrides) for err in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None


def _origin(loc: tuple[Any, ...], overrides: dict[str, Any]) -> str:
    """Where a bad value came from when not the file: an option or an environment variable."""
    given: Any = overrides
    for part in loc:
        given = given.get(str(part)) if isinstance(given, dict) else None
    if given is not None:
        return " (from the command line)"
    name = "KETABOT_" + "__".join(str(part).upper() for part in loc)
    return f" (from the environment variable {name})" if name in os.environ else ""


def _problem(err: Any, overrides: dict[str, Any]) -> str:
    """One validation error in words, pointing a pre-sections setting to its new section."""
    name = ".".join(str(p) for p in err["loc"])
    for section in (Input, Retrieval, Triage, Web, Api):
        if err["type"] == "extra_forbidden" and name in section.model_fields:
            key = section.__name__.lower()
            return f"{name}: settings are in sections now; move it under [{key}]"
    return f"{name}{_origin(tuple(err['loc']), overrides)}: {err['msg']}"


def _check_toml(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read TOML ({exc})") from None

"""An offline, deterministic generator of xLAM-format function-calling rows.

Rows look like ``Salesforce/xlam-function-calling-60k``: ``{"id", "query", "tools", "answers"}``
with ``tools`` and ``answers`` as JSON *strings* and parameter types written in Python typing
syntax (``"int, optional"``, ``"List[float]"``, ``"Tuple[float, float]"``). Each row offers the
tools it needs plus a few distractors, in shuffled order, and has one of four shapes, named with
BFCL's category words:

- ``simple``: one call;
- ``parallel``: the same tool called two or three times;
- ``parallel_multiple``: two different tools;
- ``no_call``: a request none of the offered tools can serve (``answers`` is ``[]``); such rows
  carry a ``response`` the assistant should give instead (an extra field prepare understands).

The same seed always gives the same rows, so the pipeline can be demonstrated and tested with no
hub access.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROW_SHAPES = ("simple", "parallel", "parallel_multiple", "no_call")
DEFAULT_SHAPE_WEIGHTS: Mapping[str, float] = {
    "simple": 0.55,
    "parallel": 0.15,
    "parallel_multiple": 0.15,
    "no_call": 0.15,
}
NO_CALL_RESPONSE = "I can't help with that using the tools available to me."

ValueSampler = Callable[[random.Random], Any]


@dataclass(frozen=True)
class Param:
    """One parameter of a synthetic tool: its xLAM type string and how to sample a value.

    ``mention`` renders a sampled value the way a user would say it (e.g. a list as
    ``"3, 5 and 8"``); ``default`` is written into the schema as a *string*, as real xLAM does.
    """

    name: str
    type: str
    description: str
    sample: ValueSampler
    default: str | None = None
    mention: Callable[[Any], str] = str

    @property
    def optional(self) -> bool:
        return self.type.endswith(", optional")


@dataclass(frozen=True)
class Phrasing:
    """A request template: ``{param}`` slots, and the optional parameters it mentions."""

    template: str
    optional_params: tuple[str, ...] = ()


@dataclass(frozen=True)
class SynthTool:
    """A typed tool with several ways a user may ask for it."""

    name: str
    description: str
    params: tuple[Param, ...]
    phrasings: tuple[Phrasing, ...]
    distinct: tuple[str, ...] = ()  # parameters that must take different values

    def schema(self) -> dict[str, Any]:
        """The tool in xLAM form: ``{"name", "description", "parameters": {p: {...}}}``."""
        parameters: dict[str, Any] = {}
        for param in self.params:
            entry: dict[str, Any] = {"description": param.description, "type": param.type}
            if param.default is not None:
                entry["default"] = param.default
            parameters[param.name] = entry
        return {"name": self.name, "description": self.description, "parameters": parameters}


@dataclass(frozen=True)
class Request:
    """A call and the sentence that asks for it."""

    sentence: str
    call: dict[str, Any]


@dataclass
class SynthOptions:
    """Knobs of :func:`generate_rows`."""

    count: int = 1000
    seed: int = 0
    shape_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHAPE_WEIGHTS))
    max_distractors: int = 3


# --- Value pools ---------------------------------------------------------------------------

_CITIES = (
    "Paris", "Tokyo", "London", "Berlin", "Madrid", "Rome", "Lisbon", "Oslo", "Cairo", "Lima",
    "Toronto", "Sydney", "Mumbai", "Seoul", "Nairobi", "Boston", "Chicago", "Denver", "Dublin",
    "Vienna", "Prague", "Athens", "Istanbul", "Bangkok", "Santiago",
)  # fmt: skip
_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "BRL", "SEK")
_SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "TSLA", "NVDA", "META", "NFLX", "IBM", "ORCL")
_LANGUAGES = ("French", "Spanish", "German", "Italian", "Japanese", "Portuguese", "Korean")
_PHRASES = (
    "good morning", "where is the station", "thank you very much", "I would like a coffee",
    "see you tomorrow", "how much does this cost", "the meeting is at noon", "happy birthday",
)  # fmt: skip
_CUISINES = ("italian", "thai", "mexican", "indian", "japanese", "vegan", "greek")
_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
_DOMAINS = ("example.com", "mail.org", "corp.net")
_SUBJECTS = ("Quarterly report", "Lunch on Friday", "Project update", "Invoice 42", "Trip plan")
_BODIES = (
    "Please find the numbers attached.", "Are you free at noon?", "We shipped the release.",
    "Payment is due next week.", "Flights are booked.",
)  # fmt: skip
_REMINDERS = ("call mom", "take the pills", "stand up and stretch", "check the oven", "pay rent")
_MOVIES = ("Inception", "Alien", "Amelie", "Heat", "Up", "Arrival", "Parasite", "Vertigo")
_TIMEZONES = (
    "Europe/Paris", "Asia/Tokyo", "America/New_York", "Australia/Sydney", "UTC", "Europe/London",
    "America/Los_Angeles", "Asia/Kolkata", "Africa/Nairobi", "America/Sao_Paulo", "Asia/Seoul",
    "Europe/Berlin",
)  # fmt: skip
_TOPICS = ("technology", "sports", "science", "finance", "health", "politics", "travel")
_TEXTS = (
    "the quick brown fox jumps over the lazy dog",
    "to be or not to be that is the question",
    "all models are wrong but some are useful",
    "practice makes perfect",
    "the early bird catches the worm",
    "a journey of a thousand miles begins with a single step",
    "simple is better than complex",
    "time flies like an arrow",
    "knowledge is power",
    "where there is smoke there is fire",
)  # fmt: skip
_CHITCHAT = (
    ("Tell me a joke about cats.", "Why did the cat sit on the laptop? To watch the mouse."),
    ("Who wrote Pride and Prejudice?", "Pride and Prejudice was written by Jane Austen."),
    ("What is the capital of Canada?", "The capital of Canada is Ottawa."),
    ("Write a haiku about autumn.", "Red leaves drift and fall; / the year exhales."),
    ("How are you today?", "I'm doing well, thanks for asking! How can I help?"),
    ("What does HTTP stand for?", "HTTP stands for HyperText Transfer Protocol."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is the boiling point of water at sea level?", "100 degrees Celsius."),
    ("Can you recommend a good book?", "Try 'The Left Hand of Darkness' by Ursula K. Le Guin."),
    ("What's the difference between a list and a tuple?", "A list is mutable; a tuple is not."),
    ("Say hello in a friendly way.", "Hello there! Lovely to meet you."),
    ("Why is the sky blue?", "Air scatters blue light more than red light."),
    ("Give me a synonym for happy.", "Joyful."),
    ("What year did the first moon landing happen?", "The first moon landing was in 1969."),
    ("Summarise the plot of Hamlet in one sentence.", "A prince avenges his father and dies."),
    ("What is photosynthesis?", "Plants turning light, water and CO2 into sugar and oxygen."),
    ("Thanks for your help!", "You're welcome!"),
    ("How do I politely decline an invitation?", "Thank them warmly and say you can't make it."),
    ("What rhymes with orange?", "Almost nothing; 'door hinge' is the usual joke."),
)  # fmt: skip


def _pick(pool: Sequence[Any]) -> ValueSampler:
    return lambda rng: rng.choice(pool)


def _money(rng: random.Random) -> float:
    return float(rng.choice((5, 10, 20, 25, 50, 75, 100, 150, 200, 250, 500, 1000, 1250)))


def _int_between(low: int, high: int) -> ValueSampler:
    return lambda rng: rng.randint(low, high)


def _float_between(low: float, high: float, digits: int = 1) -> ValueSampler:
    return lambda rng: round(rng.uniform(low, high), digits)


def _int_list(rng: random.Random) -> list[int]:
    return [rng.randint(1, 99) for _ in range(rng.randint(3, 6))]


def _float_list(rng: random.Random) -> list[float]:
    return [round(rng.uniform(0, 50), 1) for _ in range(rng.randint(3, 5))]


def _coordinates(rng: random.Random) -> list[float]:
    return [round(rng.uniform(-60, 60), 2), round(rng.uniform(-150, 150), 2)]


def _email(rng: random.Random) -> str:
    return f"{rng.choice(_NAMES)}@{rng.choice(_DOMAINS)}"


def _listing(values: Sequence[Any]) -> str:
    """``[3, 5, 8]`` -> ``"3, 5 and 8"``."""
    words = [str(value) for value in values]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def _point(value: Sequence[float]) -> str:
    return f"({value[0]}, {value[1]})"


def _money_text(value: float) -> str:
    return f"{value:g}"


def _ordinal(value: int) -> str:
    """``1`` -> ``"1st"``, ``12`` -> ``"12th"``, ``23`` -> ``"23rd"``."""
    suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix}"


# --- The tool library ---------------------------------------------------------------------

TOOL_LIBRARY: tuple[SynthTool, ...] = (
    SynthTool(
        "get_weather",
        "Get the current weather for a city.",
        (
            Param("city", "str", "Name of the city.", _pick(_CITIES)),
            Param(
                "units",
                "str, optional",
                "Unit system, 'metric' or 'imperial'.",
                _pick(("metric", "imperial")),
                default="metric",
            ),
        ),
        (
            Phrasing("What's the weather like in {city}?"),
            Phrasing("How is the weather in {city} right now?"),
            Phrasing("Give me the current weather for {city} in {units} units.", ("units",)),
            Phrasing("Is it cold in {city} today?"),
        ),
    ),
    SynthTool(
        "convert_currency",
        "Convert an amount of money from one currency to another.",
        (
            Param("amount", "float", "Amount to convert.", _money, mention=_money_text),
            Param("from_currency", "str", "ISO code of the source currency.", _pick(_CURRENCIES)),
            Param("to_currency", "str", "ISO code of the target currency.", _pick(_CURRENCIES)),
        ),
        (
            Phrasing("Convert {amount} {from_currency} to {to_currency}."),
            Phrasing("How much is {amount} {from_currency} in {to_currency}?"),
            Phrasing("I have {amount} {from_currency}; what is that in {to_currency}?"),
        ),
        distinct=("from_currency", "to_currency"),
    ),
    SynthTool(
        "calculate_bmi",
        "Calculate the body mass index from weight and height.",
        (
            Param("weight_kg", "float", "Body weight in kilograms.", _float_between(45, 120)),
            Param("height_m", "float", "Height in metres.", _float_between(1.45, 2.05, 2)),
        ),
        (
            Phrasing("What's the BMI for {weight_kg} kg and a height of {height_m} m?"),
            Phrasing("Calculate my BMI: I'm {height_m} m and {weight_kg} kg."),
        ),
    ),
    SynthTool(
        "get_stock_price",
        "Get the latest trading price of a stock.",
        (Param("symbol", "str", "Ticker symbol, e.g. AAPL.", _pick(_SYMBOLS)),),
        (
            Phrasing("What's the current price of {symbol} stock?"),
            Phrasing("How is {symbol} trading today?"),
            Phrasing("Get me the latest quote for {symbol}."),
        ),
    ),
    SynthTool(
        "translate_text",
        "Translate text into another language.",
        (
            Param("text", "str", "The text to translate.", _pick(_PHRASES)),
            Param("target_language", "str", "Language to translate into.", _pick(_LANGUAGES)),
            Param(
                "source_language",
                "str, optional",
                "Language of the text; detected when omitted.",
                _pick(("English",)),
                default="auto",
            ),
        ),
        (
            Phrasing("Translate '{text}' into {target_language}."),
            Phrasing("How do you say '{text}' in {target_language}?"),
            Phrasing(
                "Translate the {source_language} phrase '{text}' to {target_language}.",
                ("source_language",),
            ),
        ),
    ),
    SynthTool(
        "search_restaurants",
        "Search for restaurants in a city.",
        (
            Param("location", "str", "City to search in.", _pick(_CITIES)),
            Param("cuisine", "str, optional", "Type of food.", _pick(_CUISINES)),
            Param(
                "max_results",
                "int, optional",
                "How many results to return.",
                _int_between(2, 10),
                default="5",
            ),
        ),
        (
            Phrasing("Find restaurants in {location}."),
            Phrasing("Find {cuisine} restaurants in {location}.", ("cuisine",)),
            Phrasing(
                "Show me {max_results} {cuisine} places to eat in {location}.",
                ("cuisine", "max_results"),
            ),
        ),
    ),
    SynthTool(
        "calculate_distance",
        "Great-circle distance in kilometres between two (latitude, longitude) points.",
        (
            Param("point_a", "Tuple[float, float]", "First point.", _coordinates, mention=_point),
            Param("point_b", "Tuple[float, float]", "Second point.", _coordinates, mention=_point),
        ),
        (
            Phrasing("How far apart are {point_a} and {point_b}?"),
            Phrasing("Compute the distance between the points {point_a} and {point_b}."),
        ),
    ),
    SynthTool(
        "find_max",
        "Find the largest number in a list of integers.",
        (Param("numbers", "List[int]", "The numbers.", _int_list, mention=_listing),),
        (
            Phrasing("Which is the largest of {numbers}?"),
            Phrasing("Find the maximum of these numbers: {numbers}."),
        ),
    ),
    SynthTool(
        "is_prime",
        "Check whether an integer is a prime number.",
        (Param("n", "int", "The number to check.", _int_between(2, 997)),),
        (
            Phrasing("Is {n} a prime number?"),
            Phrasing("Check if {n} is prime."),
        ),
    ),
    SynthTool(
        "send_email",
        "Send an email.",
        (
            Param("to", "str", "Recipient address.", _email),
            Param("subject", "str", "Subject line.", _pick(_SUBJECTS)),
            Param("body", "str", "Message text.", _pick(_BODIES)),
        ),
        (
            Phrasing("Email {to} with the subject '{subject}' saying '{body}'"),
            Phrasing("Send a message to {to}: subject '{subject}', body '{body}'"),
        ),
    ),
    SynthTool(
        "set_reminder",
        "Set a reminder that fires after some minutes.",
        (
            Param("message", "str", "What to be reminded of.", _pick(_REMINDERS)),
            Param("minutes", "int", "Minutes from now.", _int_between(1, 120)),
        ),
        (
            Phrasing("Remind me to {message} in {minutes} minutes."),
            Phrasing("Set a reminder in {minutes} minutes to {message}."),
        ),
    ),
    SynthTool(
        "get_movie_details",
        "Look up details about a movie.",
        (
            Param("title", "str", "Movie title.", _pick(_MOVIES)),
            Param("year", "int, optional", "Release year.", _int_between(1958, 2019)),
        ),
        (
            Phrasing("Tell me about the movie {title}."),
            Phrasing("Get details for {title} from {year}.", ("year",)),
            Phrasing("Who directed {title}?"),
        ),
    ),
    SynthTool(
        "compound_interest",
        "Compute the final balance of an investment with compound interest.",
        (
            Param("principal", "float", "Initial amount.", _money, mention=_money_text),
            Param("rate", "float", "Annual rate as a decimal.", _pick((0.02, 0.03, 0.05, 0.07))),
            Param("years", "int", "Number of years.", _int_between(1, 30)),
            Param(
                "compounds_per_year",
                "int, optional",
                "Compounding periods per year.",
                _pick((1, 4, 12)),
                default="12",
            ),
        ),
        (
            Phrasing("I put {principal} in at a rate of {rate} for {years} years. What do I get?"),
            Phrasing(
                "Compound {principal} at {rate} for {years} years, {compounds_per_year}x a year.",
                ("compounds_per_year",),
            ),
        ),
    ),
    SynthTool(
        "list_flights",
        "List flights between two cities on a date.",
        (
            Param("origin", "str", "Departure city.", _pick(_CITIES)),
            Param("destination", "str", "Arrival city.", _pick(_CITIES)),
            Param(
                "date",
                "str",
                "Date as YYYY-MM-DD.",
                lambda rng: f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            ),
        ),
        (
            Phrasing("Find flights from {origin} to {destination} on {date}."),
            Phrasing("Are there any flights {origin} to {destination} on {date}?"),
        ),
        distinct=("origin", "destination"),
    ),
    SynthTool(
        "get_local_time",
        "Current local time in an IANA time zone.",
        (Param("timezone", "str", "IANA time zone name.", _pick(_TIMEZONES)),),
        (
            Phrasing("What time is it in {timezone}?"),
            Phrasing("Tell me the local time for the {timezone} time zone."),
        ),
    ),
    SynthTool(
        "sort_numbers",
        "Sort a list of numbers.",
        (
            Param("numbers", "List[float]", "The numbers.", _float_list, mention=_listing),
            Param(
                "descending",
                "bool, optional",
                "Sort from largest to smallest.",
                _pick((True,)),
                default="False",
            ),
        ),
        (
            Phrasing("Sort these numbers: {numbers}."),
            Phrasing("Sort {numbers} in descending order.", ("descending",)),
        ),
    ),
    SynthTool(
        "get_news_headlines",
        "Fetch the latest news headlines on a topic.",
        (
            Param("topic", "str", "News topic.", _pick(_TOPICS)),
            Param("limit", "int, optional", "Number of headlines.", _int_between(2, 10), "3"),
        ),
        (
            Phrasing("What's new in {topic}?"),
            Phrasing("Give me the top {limit} {topic} headlines.", ("limit",)),
        ),
    ),
    SynthTool(
        "word_count",
        "Count the words in a text.",
        (Param("text", "str", "The text.", _pick(_TEXTS)),),
        (
            Phrasing("How many words are in '{text}'?"),
            Phrasing("Count the words in this sentence: '{text}'"),
        ),
    ),
    SynthTool(
        "fibonacci",
        "Return the n-th Fibonacci number.",
        (Param("n", "int", "Position in the sequence.", _int_between(1, 60), mention=_ordinal),),
        (
            Phrasing("What is the {n} Fibonacci number?"),
            Phrasing("Compute the {n} number of the Fibonacci sequence."),
        ),
    ),
    SynthTool(
        "celsius_to_fahrenheit",
        "Convert a temperature from Celsius to Fahrenheit.",
        (Param("celsius", "float", "Temperature in Celsius.", _float_between(-30, 45)),),
        (
            Phrasing("What is {celsius} degrees Celsius in Fahrenheit?"),
            Phrasing("Convert {celsius} C to Fahrenheit."),
        ),
    ),
)
_TOOLS_BY_NAME = {tool.name: tool for tool in TOOL_LIBRARY}
_CONNECTORS = ("Also,", "And", "Then", "After that,")


def sample_request(tool: SynthTool, rng: random.Random) -> Request:
    """One request for ``tool``: a phrasing with sampled values and the matching call.

    Optional parameters appear in the call exactly when the phrasing mentions them.

    Example:
        >>> request = sample_request(_TOOLS_BY_NAME["is_prime"], random.Random(1))
        >>> request.call["name"], sorted(request.call["arguments"])
        ('is_prime', ['n'])
        >>> str(request.call["arguments"]["n"]) in request.sentence
        True
    """
    phrasing = rng.choice(tool.phrasings)
    arguments: dict[str, Any] = {}
    mentions: dict[str, str] = {}
    for param in tool.params:
        if param.optional and param.name not in phrasing.optional_params:
            continue
        value = param.sample(rng)
        taken = [arguments[name] for name in tool.distinct if name in arguments]
        while param.name in tool.distinct and value in taken:
            value = param.sample(rng)
        arguments[param.name] = value
        mentions[param.name] = param.mention(value)
    sentence = phrasing.template.format(**mentions)
    return Request(sentence=sentence, call={"name": tool.name, "arguments": arguments})


def _join(sentences: Sequence[str], rng: random.Random) -> str:
    joined = sentences[0]
    for sentence in sentences[1:]:
        connector = rng.choice(_CONNECTORS)
        joined += f" {connector} {sentence[0].lower()}{sentence[1:]}"
    return joined


def _offered_tools(
    needed: Sequence[SynthTool], rng: random.Random, max_distractors: int, exclude: set[str]
) -> list[SynthTool]:
    taken = {tool.name for tool in needed} | exclude
    pool = [tool for tool in TOOL_LIBRARY if tool.name not in taken]
    offered = list(needed) + rng.sample(pool, rng.randint(0, max_distractors))
    rng.shuffle(offered)
    return offered


def _row(
    row_id: int,
    query: str,
    tools: Sequence[SynthTool],
    answers: list[dict[str, Any]],
    response: str | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": row_id,
        "query": query,
        "tools": json.dumps([tool.schema() for tool in tools]),
        "answers": json.dumps(answers),
    }
    if response is not None:
        row["response"] = response
    return row


def generate_row(
    row_id: int, shape: str, rng: random.Random, max_distractors: int = 3
) -> dict[str, Any]:
    """One xLAM-format row of the given shape (``simple``, ``parallel``, ...).

    Example:
        >>> row = generate_row(7, "parallel", random.Random(0))
        >>> answers = json.loads(row["answers"])
        >>> len(answers) >= 2 and len({call["name"] for call in answers}) == 1
        True
        >>> json.loads(generate_row(8, "no_call", random.Random(0))["answers"])
        []
    """
    if shape == "simple":
        tool = rng.choice(TOOL_LIBRARY)
        request = sample_request(tool, rng)
        offered = _offered_tools([tool], rng, max_distractors, set())
        return _row(row_id, request.sentence, offered, [request.call])
    if shape == "parallel":
        tool = rng.choice(TOOL_LIBRARY)
        requests = _distinct_requests(tool, rng.randint(2, 3), rng)
        offered = _offered_tools([tool], rng, max_distractors, set())
        query = _join([request.sentence for request in requests], rng)
        return _row(row_id, query, offered, [request.call for request in requests])
    if shape == "parallel_multiple":
        first, second = rng.sample(TOOL_LIBRARY, 2)
        requests = [sample_request(first, rng), sample_request(second, rng)]
        offered = _offered_tools([first, second], rng, max_distractors, set())
        query = _join([request.sentence for request in requests], rng)
        return _row(row_id, query, offered, [request.call for request in requests])
    if shape == "no_call":
        return _no_call_row(row_id, rng, max_distractors)
    raise ValueError(f"unknown row shape {shape!r}; expected one of {ROW_SHAPES}")


def _distinct_requests(tool: SynthTool, count: int, rng: random.Random) -> list[Request]:
    """``count`` requests for one tool with pairwise different calls (bounded retries)."""
    requests: list[Request] = []
    seen: set[str] = set()
    for _ in range(count * 10):
        request = sample_request(tool, rng)
        key = json.dumps(request.call, sort_keys=True)
        if key not in seen:
            seen.add(key)
            requests.append(request)
        if len(requests) == count:
            break
    return requests if len(requests) >= 2 else [*requests, sample_request(tool, rng)]


def _no_call_row(row_id: int, rng: random.Random, max_distractors: int) -> dict[str, Any]:
    """Chit-chat, or a request for a tool that is *not* offered (the realistic irrelevance)."""
    if rng.random() < 0.5:
        query, response = rng.choice(_CHITCHAT)
        offered = _offered_tools([], rng, max(1, max_distractors), set())
        return _row(row_id, query, offered or [rng.choice(TOOL_LIBRARY)], [], response)
    wanted = rng.choice(TOOL_LIBRARY)
    request = sample_request(wanted, rng)
    offered = _offered_tools([], rng, max(1, max_distractors), {wanted.name})
    if not offered:
        offered = [rng.choice([tool for tool in TOOL_LIBRARY if tool is not wanted])]
    return _row(row_id, request.sentence, offered, [], NO_CALL_RESPONSE)


def iter_rows(options: SynthOptions) -> Iterator[dict[str, Any]]:
    """Yield ``options.count`` rows; the same options always yield the same rows."""
    unknown = set(options.shape_weights) - set(ROW_SHAPES)
    if unknown:
        raise ValueError(f"unknown row shapes {sorted(unknown)}; expected {ROW_SHAPES}")
    shapes = [shape for shape in ROW_SHAPES if options.shape_weights.get(shape, 0) > 0]
    weights = [options.shape_weights[shape] for shape in shapes]
    if not shapes:
        raise ValueError("shape_weights gives every row shape a zero weight")
    rng = random.Random(options.seed)
    for row_id in range(options.count):
        shape = rng.choices(shapes, weights)[0]
        yield generate_row(row_id, shape, rng, options.max_distractors)


def generate_rows(options: SynthOptions) -> list[dict[str, Any]]:
    """All rows of :func:`iter_rows` as a list.

    Example:
        >>> rows = generate_rows(SynthOptions(count=3, seed=5))
        >>> [row["id"] for row in rows], rows == generate_rows(SynthOptions(count=3, seed=5))
        ([0, 1, 2], True)
    """
    return list(iter_rows(options))


def write_jsonl(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write rows as JSON lines (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

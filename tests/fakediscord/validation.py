"""Discord's rules, checked without any I/O: limits, flag and permission bits, and the nested
400/50035 "Invalid Form Body" error builder with the command-definition, message, component and
modal checks that use it.  No aiohttp here."""

from __future__ import annotations

from typing import Any

DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
COMPONENTS_V2 = 1 << 15
PERM_ADMINISTRATOR = 1 << 3
PERM_VIEW_CHANNEL = 1 << 10
PERM_SEND_MESSAGES = 1 << 11
PERM_EMBED_LINKS = 1 << 14
PERM_ATTACH_FILES = 1 << 15
PERM_READ_MESSAGE_HISTORY = 1 << 16
PERM_ADD_REACTIONS = 1 << 6
PERM_SEND_MESSAGES_IN_THREADS = 1 << 38
_VIOLATION_CODES = (50035, 50006, 30032)
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12

_INTERACTION_TYPES = {1: "PING", 2: "APPLICATION_COMMAND", 3: "MESSAGE_COMPONENT", 4: "AUTOCOMPLETE", 5: "MODAL_SUBMIT"}
_OPTION_TYPES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}
_SELECT_TYPES = (3, 5, 6, 7, 8)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: int = 0, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors


# --------------------------------------------------------------------------------------------------
# validation like real Discord (400 / 50035 "Invalid Form Body" with a nested ``errors`` dict)
# --------------------------------------------------------------------------------------------------

Path = tuple[str | int, ...]


class _FormErrors:
    """Collects Discord-style nested form errors: ``{"a": {"0": {"b": {"_errors": [{code, message}]}}}}``."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Path, code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def required(self, path: Path) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def length(
        self, path: Path, value: Any, hi: int, lo: int = 0, *, required: bool = False, what: str = "str"
    ) -> None:
        """Length check of a string (``what="str"``) or a list (``what="list"``); ``None`` = absent."""
        if value is None:
            if required:
                self.required(path)
            return
        if what == "str" and not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Must be a string.")
            return
        if what == "list" and not isinstance(value, list):
            self.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
            return
        n = len(value)
        if lo <= n <= hi:
            return
        if lo <= 0:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
        else:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")

    def number(self, path: Path, value: Any, lo: float | None, hi: float | None, *, integer: bool = False) -> None:
        if value is None:
            return
        kind = "int" if integer else "float"
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            self.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not {kind}.')
            return
        if lo is not None and value < lo:
            self.add(path, "NUMBER_TYPE_MIN", f"{kind} value should be greater than or equal to {lo}.")
        if hi is not None and value > hi:
            self.add(path, "NUMBER_TYPE_MAX", f"{kind} value should be less than or equal to {hi}.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise _HTTPError(400, "Invalid Form Body", 50035, self.tree)


def _flatten_errors(errors: dict[str, Any], prefix: str = "") -> list[str]:
    """``{"a": {"0": {"_errors": [...]}}}`` -> ``["a.0: Must be ..."]`` (like discord.py's HTTPException.text)."""
    out: list[str] = []
    for key, val in errors.items():
        if key == "_errors":
            msgs = " ".join(f"{e.get('message')} ({e.get('code')})" for e in val)
            out.append(f"{prefix or '<body>'}: {msgs}")
        elif isinstance(val, dict):
            out += _flatten_errors(val, f"{prefix}.{key}" if prefix else key)
    return out


def _valid_chat_input_name(name: Any) -> bool:
    """``^[-_\\p{L}\\p{N}]{1,32}$``, lowercase where the script has case (approximated with str methods)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return False
    return all(ch in "-_" or (ch.isalnum() and not ch.isupper()) for ch in name)


_COMMAND_TYPES = (1, 2, 3, 4)
_MAX_CHAT_INPUT_COMMANDS = 100
_MAX_COMMAND_SIZE = 4000
_SAFE_INT = 2**53


def _command_size(cmd: dict[str, Any]) -> int:
    """Characters Discord counts towards a command's 4000: names, descriptions, choice names and values."""

    def opt_size(opt: dict[str, Any]) -> int:
        size = len(str(opt.get("name") or "")) + len(str(opt.get("description") or ""))
        for ch in opt.get("choices") or []:
            if isinstance(ch, dict):
                size += len(str(ch.get("name") or "")) + len(
                    str(ch.get("value") if ch.get("value") is not None else "")
                )
        return size + sum(opt_size(o) for o in opt.get("options") or [] if isinstance(o, dict))

    return opt_size(cmd)


def _validate_options(errs: _FormErrors, path: Path, options: Any, *, depth: int) -> None:
    """Options of a chat-input command (depth 0), of a subcommand group (1) or of a subcommand (1/2)."""
    if options is None:
        return
    if not isinstance(options, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    errs.length(path, options, 25, what="list")
    names: set[str] = set()
    seen_optional = False
    kinds: set[str] = set()
    for i, opt in enumerate(options):
        op = (*path, i)
        if not isinstance(opt, dict):
            errs.add(op, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        otype = opt.get("type")
        if otype not in _OPTION_TYPES:
            errs.add((*op, "type"), "BASE_TYPE_CHOICES", f"Value must be one of {set(_OPTION_TYPES)}.")
            continue
        name = opt.get("name")
        if name is None:
            errs.required((*op, "name"))
        elif not _valid_chat_input_name(name):
            errs.add((*op, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        elif name in names:
            errs.add((*op, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option name already used")
        else:
            names.add(name)
        errs.length((*op, "description"), opt.get("description"), 100, 1, required=True)
        if otype in (1, 2):
            kinds.add("sub")
            if (otype == 2 and depth > 0) or (otype == 1 and depth > 1):
                errs.add((*op, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Subcommands nest too deep")
            sub_opts = opt.get("options")
            if otype == 2:
                if not sub_opts:
                    errs.required((*op, "options"))
                for j, sub in enumerate(sub_opts or []):
                    if isinstance(sub, dict) and sub.get("type") != 1:
                        errs.add(
                            (*op, "options", j, "type"),
                            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                            "A subcommand group holds subcommands only",
                        )
            _validate_options(errs, (*op, "options"), sub_opts, depth=depth + 1)
            continue
        kinds.add("value")
        if opt.get("options"):
            errs.add((*op, "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Only subcommands have options")
        if opt.get("required"):
            if seen_optional:
                errs.add(
                    (*op, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices is not None:
            if otype not in (3, 4, 10):
                errs.add(
                    (*op, "choices"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Choices need a string, integer or number option",
                )
            elif opt.get("autocomplete"):
                errs.add(
                    (*op, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES",
                    "Autocomplete cannot be set when choices are present",
                )
            errs.length((*op, "choices"), choices, 25, what="list")
            for j, ch in enumerate(choices if isinstance(choices, list) else []):
                cp = (*op, "choices", j)
                if not isinstance(ch, dict):
                    errs.add(cp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                    continue
                errs.length((*cp, "name"), ch.get("name"), 100, 1, required=True)
                value = ch.get("value")
                if value is None:
                    errs.required((*cp, "value"))
                elif otype == 3:
                    errs.length((*cp, "value"), value, 100, 1)
                else:
                    errs.number((*cp, "value"), value, -_SAFE_INT, _SAFE_INT, integer=otype == 4)
        if otype == 3:
            errs.number((*op, "min_length"), opt.get("min_length"), 0, 6000, integer=True)
            errs.number((*op, "max_length"), opt.get("max_length"), 1, 6000, integer=True)
            lo, hi = opt.get("min_length"), opt.get("max_length")
            if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
                errs.add((*op, "min_length"), "NUMBER_TYPE_MAX", f"int value should be less than or equal to {hi}.")
        else:
            for key in ("min_length", "max_length"):
                if opt.get(key) is not None:
                    errs.add(
                        (*op, key), "APPLICATION_COMMAND_OPTION_LENGTH_INVALID", "Only string options have lengths"
                    )
        if otype in (4, 10):
            errs.number((*op, "min_value"), opt.get("min_value"), -_SAFE_INT, _SAFE_INT, integer=otype == 4)
            errs.number((*op, "max_value"), opt.get("max_value"), -_SAFE_INT, _SAFE_INT, integer=otype == 4)
            lo, hi = opt.get("min_value"), opt.get("max_value")
            if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
                errs.add((*op, "min_value"), "NUMBER_TYPE_MAX", f"value should be less than or equal to {hi}.")
        else:
            for key in ("min_value", "max_value"):
                if opt.get(key) is not None:
                    errs.add((*op, key), "APPLICATION_COMMAND_OPTION_VALUE_INVALID", "Only numeric options have bounds")
    if len(kinds) > 1:
        errs.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Subcommands and subcommand groups cannot be mixed with other options",
        )


def _validate_command(errs: _FormErrors, path: Path, cmd: Any) -> None:
    if not isinstance(cmd, dict):
        errs.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    ctype = cmd.get("type", 1)
    if ctype is None:
        ctype = 1
    if ctype not in _COMMAND_TYPES:
        errs.add((*path, "type"), "BASE_TYPE_CHOICES", f"Value must be one of {set(_COMMAND_TYPES)}.")
        return
    name = cmd.get("name")
    if ctype == 1:
        if name is None:
            errs.required((*path, "name"))
        elif not _valid_chat_input_name(name):
            errs.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        errs.length((*path, "description"), cmd.get("description"), 100, 1, required=True)
        _validate_options(errs, (*path, "options"), cmd.get("options"), depth=0)
    else:
        errs.length((*path, "name"), name, 32, 1, required=True)
        if cmd.get("options"):
            errs.add(
                (*path, "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Context menu commands have no options"
            )
    if _command_size(cmd) > _MAX_COMMAND_SIZE:
        errs.add(path, "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({_MAX_COMMAND_SIZE})")


# -- messages ------------------------------------------------------------------------------------------

_BUTTON_STYLES = (1, 2, 3, 4, 5, 6)


def _validate_embeds(errs: _FormErrors, embeds: Any) -> None:
    if embeds is None:
        return
    if not isinstance(embeds, list):
        errs.add(("embeds",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    errs.length(("embeds",), embeds, 10, what="list")
    total = 0
    for i, e in enumerate(embeds):
        p: Path = ("embeds", i)
        if not isinstance(e, dict):
            errs.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        for key, lim in (("title", 256), ("description", 4096)):
            val = e.get(key)
            errs.length((*p, key), val, lim)
            total += len(val) if isinstance(val, str) else 0
        fields = e.get("fields")
        errs.length((*p, "fields"), fields, 25, what="list")
        for j, f in enumerate(fields if isinstance(fields, list) else []):
            fp = (*p, "fields", j)
            if not isinstance(f, dict):
                errs.add(fp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            errs.length((*fp, "name"), f.get("name"), 256, 1, required=True)
            errs.length((*fp, "value"), f.get("value"), 1024, 1, required=True)
            total += sum(len(f.get(k)) for k in ("name", "value") if isinstance(f.get(k), str))
        footer = e.get("footer")
        if isinstance(footer, dict):
            errs.length((*p, "footer", "text"), footer.get("text"), 2048, 1, required=True)
            total += len(footer["text"]) if isinstance(footer.get("text"), str) else 0
        author = e.get("author")
        if isinstance(author, dict):
            errs.length((*p, "author", "name"), author.get("name"), 256, 1, required=True)
            total += len(author["name"]) if isinstance(author.get("name"), str) else 0
    if total > 6000:
        errs.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


class _ComponentChecker:
    """Walks a message's or modal's components, checking them with their payload paths."""

    def __init__(self, errs: _FormErrors, *, modal: bool) -> None:
        self.errs = errs
        self.modal = modal
        self.custom_ids: set[str] = set()
        self.count = 0

    def custom_id(self, path: Path, comp: dict[str, Any], *, required: bool = True) -> None:
        cid = comp.get("custom_id")
        if cid is None:
            if required:
                self.errs.required((*path, "custom_id"))
            return
        self.errs.length((*path, "custom_id"), cid, 100, 1)
        if isinstance(cid, str):
            if cid in self.custom_ids:
                self.errs.add(
                    (*path, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            self.custom_ids.add(cid)

    def component(self, path: Path, comp: Any) -> None:
        if not isinstance(comp, dict):
            self.errs.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            return
        self.count += 1
        ctype = comp.get("type")
        if ctype == 1:
            self.row(path, comp)
        elif ctype == 2:
            self.button(path, comp)
        elif ctype in _SELECT_TYPES:
            self.select(path, comp)
        elif ctype == 4:
            self.text_input(path, comp, labelled=False)
        elif ctype == 18:  # label (modals)
            self.errs.length((*path, "label"), comp.get("label"), 45, 1, required=True)
            self.errs.length((*path, "description"), comp.get("description"), 100)
            inner = comp.get("component")
            if inner is None:
                self.errs.required((*path, "component"))
            elif isinstance(inner, dict) and inner.get("type") == 4:
                self.count += 1
                self.text_input((*path, "component"), inner, labelled=True)
            else:
                self.component((*path, "component"), inner)
        elif ctype == 10:  # text display
            self.errs.length((*path, "content"), comp.get("content"), 4000, 1, required=True)
        elif ctype in (9, 17):  # section, container
            children = comp.get("components")
            lo, hi = (1, 3) if ctype == 9 else (1, 40)
            self.errs.length((*path, "components"), children, hi, lo, required=True, what="list")
            for j, child in enumerate(children if isinstance(children, list) else []):
                self.component((*path, "components", j), child)
            if ctype == 9:
                acc = comp.get("accessory")
                if acc is None:
                    self.errs.required((*path, "accessory"))
                else:
                    self.component((*path, "accessory"), acc)
        elif ctype in (11, 12, 13, 14, 19, 21, 22, 23):
            pass  # thumbnail, media gallery, file, separator, file upload, radio/checkbox: not checked further
        elif ctype is None:
            self.errs.required((*path, "type"))
        else:
            self.errs.add(
                (*path, "type"), "UNION_TYPE_CHOICES", f'Value of field "type" must be one of known types, got {ctype}.'
            )

    def row(self, path: Path, row: dict[str, Any]) -> None:
        children = row.get("components")
        self.errs.length((*path, "components"), children, 5, 1, required=True, what="list")
        if not isinstance(children, list):
            return
        width = 0
        for j, child in enumerate(children):
            cp = (*path, "components", j)
            ctype = child.get("type") if isinstance(child, dict) else None
            if ctype == 1:
                self.errs.add((*cp, "type"), "COMPONENT_LAYOUT_INVALID", "An action row cannot hold an action row")
                continue
            width += 5 if ctype in (*_SELECT_TYPES, 4) else 1
            if width > 5 and len(children) <= 5:
                self.errs.add(
                    cp, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The specified component exceeds the maximum width"
                )
            self.component(cp, child)

    def button(self, path: Path, b: dict[str, Any]) -> None:
        if self.modal:
            self.errs.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Buttons are not allowed in modals")
        style = b.get("style")
        if style not in _BUTTON_STYLES:
            self.errs.add((*path, "style"), "BASE_TYPE_CHOICES", f"Value must be one of {set(_BUTTON_STYLES)}.")
        self.errs.length((*path, "label"), b.get("label"), 80)
        if style == 5:
            if not b.get("url"):
                self.errs.required((*path, "url"))
            else:
                self.errs.length((*path, "url"), b.get("url"), 512)
                self.link_url((*path, "url"), b.get("url"))
            if b.get("custom_id") is not None:
                self.errs.add(
                    (*path, "custom_id"), "BUTTON_COMPONENT_LINK_CUSTOM_ID", "A link button cannot have a custom_id"
                )
        elif style == 6:
            if not b.get("sku_id"):
                self.errs.required((*path, "sku_id"))
            for key in ("custom_id", "url", "label", "emoji"):
                if b.get(key) is not None:
                    self.errs.add((*path, key), "BUTTON_COMPONENT_PREMIUM_FIELD", f"A premium button cannot have {key}")
        else:
            self.custom_id(path, b)
            if b.get("url") is not None:
                self.errs.add((*path, "url"), "BUTTON_COMPONENT_URL_NOT_LINK", "Only link buttons can have a url")
        if style != 6 and not b.get("label") and not b.get("emoji"):
            self.errs.add((*path, "label"), "BUTTON_COMPONENT_LABEL_OR_EMOJI", "A button needs a label or an emoji")

    def link_url(self, path: Path, url: Any) -> None:
        """A link button's URL: well formed, with a scheme Discord opens (http, https or discord)."""
        if not isinstance(url, str):
            return
        scheme, sep, rest = url.partition("://")
        if not sep or not scheme or not rest or any(ch.isspace() for ch in url):
            self.errs.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        elif scheme.lower() not in ("http", "https", "discord"):
            self.errs.add(path, "URL_TYPE_INVALID_SCHEME",
                          f'Scheme "{scheme}" is not supported. Scheme must be one of (\'http\', \'https\', '
                          "'discord').")

    def select(self, path: Path, s: dict[str, Any]) -> None:
        self.custom_id(path, s)
        self.errs.length((*path, "placeholder"), s.get("placeholder"), 150)
        self.errs.number((*path, "min_values"), s.get("min_values"), 0, 25, integer=True)
        self.errs.number((*path, "max_values"), s.get("max_values"), 1, 25, integer=True)
        lo, hi = s.get("min_values", 1), s.get("max_values", 1)
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            self.errs.add(
                (*path, "min_values"), "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE", "min_values cannot exceed max_values"
            )
        if s.get("type") != 3:
            return
        options = s.get("options")
        self.errs.length((*path, "options"), options, 25, 1, required=True, what="list")
        if not isinstance(options, list):
            return
        values: set[str] = set()
        for j, o in enumerate(options):
            op = (*path, "options", j)
            if not isinstance(o, dict):
                self.errs.add(op, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            self.errs.length((*op, "label"), o.get("label"), 100, 1, required=True)
            self.errs.length((*op, "value"), o.get("value"), 100, 1, required=True)
            self.errs.length((*op, "description"), o.get("description"), 100)
            if o.get("value") in values:
                self.errs.add(
                    (*op, "value"), "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "Select option values must be unique"
                )
            values.add(o.get("value"))
        if isinstance(hi, int) and options and hi > len(options):
            self.errs.add(
                (*path, "max_values"),
                "SELECT_COMPONENT_MAX_VALUES_EXCEEDS_OPTIONS",
                f"max_values must be at most {len(options)} (the number of options)",
            )
        if isinstance(lo, int) and options and lo > len(options):
            self.errs.add(
                (*path, "min_values"),
                "SELECT_COMPONENT_MIN_VALUES_EXCEEDS_OPTIONS",
                f"min_values must be at most {len(options)} (the number of options)",
            )

    def text_input(self, path: Path, t: dict[str, Any], *, labelled: bool) -> None:
        if not self.modal:
            self.errs.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Text inputs are only allowed in modals")
        self.custom_id(path, t)
        if t.get("style") not in (1, 2):
            self.errs.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
        if labelled:
            if t.get("label") is not None:
                self.errs.add(
                    (*path, "label"), "COMPONENT_LABEL_DUPLICATED", "A text input inside a label has no label"
                )
        else:
            self.errs.length((*path, "label"), t.get("label"), 45, 1, required=True)
        self.errs.length((*path, "value"), t.get("value"), 4000)
        self.errs.length((*path, "placeholder"), t.get("placeholder"), 100)
        self.errs.number((*path, "min_length"), t.get("min_length"), 0, 4000, integer=True)
        self.errs.number((*path, "max_length"), t.get("max_length"), 1, 4000, integer=True)


def _validate_components(errs: _FormErrors, components: Any, *, v2: bool, modal: bool = False) -> None:
    if components is None:
        return
    if not isinstance(components, list):
        errs.add(("components",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    checker = _ComponentChecker(errs, modal=modal)
    if modal:
        errs.length(("components",), components, 5, 1, required=True, what="list")
    elif not v2:
        errs.length(("components",), components, 5, what="list")
    for i, comp in enumerate(components):
        ctype = comp.get("type") if isinstance(comp, dict) else None
        if not v2 and not modal and ctype != 1:
            errs.add(
                ("components", i, "type"),
                "COMPONENT_LAYOUT_INVALID",
                "Top-level components must be action rows (set the IS_COMPONENTS_V2 flag for others)",
            )
        if modal and ctype not in (1, 10, 18):
            errs.add(
                ("components", i, "type"),
                "COMPONENT_LAYOUT_INVALID",
                "A modal holds action rows, labels and text displays",
            )
        checker.component(("components", i), comp)
    if v2 and not modal and checker.count > 40:
        errs.add(("components",), "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED", "Must be 40 or fewer in total.")

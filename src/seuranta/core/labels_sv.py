"""The Swedish vocabulary of the Swedish summary (Svensk sammanfattning): names of tasks,
population bases and quarters. Numbers are written as in Finnish (Finland-Swedish usage:
space as thousands separator, decimal comma), so :mod:`seuranta.core.fmt` formats them."""

from __future__ import annotations

#: The service tasks in Swedish (THL's Swedish names of the Kanta code system's tasks).
TASK_SV = {
    "iakkaat": "Tjänster för äldre",
    "tyoikaiset": "Tjänster för personer i arbetsför ålder",
    "lapsiperheet": "Tjänster för barnfamiljer",
    "lastensuojelu": "Barnskydd",
    "vammaispalvelut": "Handikappservice",
    "paihdetyo": "Särskilda tjänster inom missbruks- och beroendearbetet",
    "perheoikeudelliset": "Familjerättsliga tjänster",
    "lastensuojelulaki": "Klientskap enligt barnskyddslagen",
}

#: Population base of each task ("19 % av personer som fyllt 65 år").
BASE_SV = {
    "iakkaat": "av personer som fyllt 65 år",
    "tyoikaiset": "av 18–64-åringarna",
    "lapsiperheet": "av personer under 65 år",
    "lastensuojelu": "av personer under 18 år",
    "lastensuojelulaki": "av personer under 18 år",
    "vammaispalvelut": "av befolkningen",
    "paihdetyo": "av befolkningen",
    "perheoikeudelliset": "av befolkningen",
}

QUARTER_SV = {1: "januari–mars", 2: "april–juni", 3: "juli–september", 4: "oktober–december"}



def quarter_name_sv(quarter: str) -> str:
    """``2023Q1`` → ``januari–mars 2023``."""
    return f"{QUARTER_SV[int(quarter[-1])]} {quarter[:4]}"

"""The Finnish vocabulary of the publication: names of tasks, age groups, quality classes,
sources and quarters in the forms the text needs. One place for every label."""

#: Genitive plural of each task as used in "… asiakkaita" sentences.
TASK_GENITIVE = {
    "iakkaat": "iäkkäiden palveluiden",
    "tyoikaiset": "työikäisten palveluiden",
    "lapsiperheet": "lapsiperheiden palveluiden",
    "lastensuojelu": "lastensuojelun",
    "vammaispalvelut": "vammaispalveluiden",
    "paihdetyo": "päihde- ja riippuvuustyön erityisten palveluiden",
    "perheoikeudelliset": "perheoikeudellisten palveluiden",
    "lastensuojelulaki": "lastensuojelulain mukaisia",
}


#: The municipal covariates the statistics stage computes (statistics.represent), with
#: their Finnish labels: the one list of known covariates (parameters naming others are
#: refused when loaded, core.params).
COVARIATE_FI = {
    "log_population": "väkiluku (logaritmi)",
    "share_0_17": "alle 18-vuotiaiden osuus, %",
    "share_65plus": "65 vuotta täyttäneiden osuus, %",
    "share_85plus": "85 vuotta täyttäneiden osuus, %",
    "urban": "vähintään 20 000 asukkaan kunta (kaupunkimaisuuden korvike)",
}


#: Short names for charts and narrow tables.
TASK_SHORT = {
    "iakkaat": "Iäkkäät",
    "tyoikaiset": "Työikäiset",
    "lapsiperheet": "Lapsiperheet",
    "lastensuojelu": "Lastensuojelu",
    "vammaispalvelut": "Vammaispalvelut",
    "paihdetyo": "Päihdetyö",
    "perheoikeudelliset": "Perheoikeudelliset",
    "lastensuojelulaki": "Lastensuojelulaki",
}


#: Population base of each task in the elative ("19 % yli 65-vuotiaista").
BASE_ELATIVE = {
    "iakkaat": "65 vuotta täyttäneistä",
    "tyoikaiset": "18–64-vuotiaista",
    "lapsiperheet": "alle 65-vuotiaista",
    "lastensuojelu": "alle 18-vuotiaista",
    "lastensuojelulaki": "alle 18-vuotiaista",
    "vammaispalvelut": "väestöstä",
    "paihdetyo": "väestöstä",
    "perheoikeudelliset": "väestöstä",
}


#: Age groups of the estimates (one spelling everywhere: book, annexes, open data).
AGE_GROUP_FI = {"0-17": "alle 18-vuotiaat", "18-64": "18–64-vuotiaat", "65+": "65 vuotta täyttäneet",
                "85+": "85 vuotta täyttäneet"}


#: Quality class of a group of municipalities (column heads, class names): "Kattavat".
QUALITY_FI = {"comprehensive": "Kattavat", "partial": "Osittaiset", "none": "Ei tietoja"}

#: Quality class of one municipality's data (a cell of a review form): "kattava".
QUALITY_ONE_FI = {"comprehensive": "kattava", "partial": "osittainen", "none": "ei tietoja"}

#: Review-round decisions (corrections.csv ``decision``).
DECISION_FI = {"exclude": "jätetään pois arviosta", "include": "hyväksytään", "note": "huomautus"}


#: The publication's source credit ("Lähde: …") in annexes, open data and the book.
CREDIT_FI = "Sosiaalihuollon seurantarekisteri, THL"
#: The source credit of the cost chapter (Sote-tietopaketit).
CREDIT_COSTS_FI = "Sote-tietopaketit, THL"
#: What a chart's source line adds when the figures were computed from the synthetic demo
#: data ("Lähde: …, THL (synteettinen demoaineisto)").
CREDIT_SYNTHETIC_FI = "synteettinen demoaineisto"

QUARTER_INESSIVE = {1: "tammi–maaliskuussa", 2: "huhti–kesäkuussa", 3: "heinä–syyskuussa",
                    4: "loka–joulukuussa"}


#: Short table prefixes per task, as in THL's "Taulukko VA1".
TASK_ABBR = {"iakkaat": "IP", "tyoikaiset": "TP", "lapsiperheet": "LP", "lastensuojelu": "LS",
             "vammaispalvelut": "VA", "paihdetyo": "PR", "perheoikeudelliset": "PO",
             "lastensuojelulaki": "LL"}



#: Reasons of the publication rule (statistics.estimate.publication_rule), "… alle raja-arvon".
RULE_REASON_FI = {
    "base_share": "kattavien kuntien osuus väestöpohjasta",
    "municipalities": "kattavien kuntien määrä",
    "clients": "kattavien kuntien asiakasmäärä",
    "rse": "arvion suhteellinen keskivirhe",
    # model risk (estimate.model_risk_reasons): whole clauses, the limit in {limit}
    "counties": ("kattavat kunnat ovat alle {limit} hyvinvointialueelta, joten aineistosta ei "
                 "näe, kuinka paljon muut alueet poikkeavat niistä"),
    "std_diff": ("kattavat kunnat poikkeavat muista kunnista (standardoitu ero yli {limit} "
                 "jossakin mallin selittäjässä), joten malli ennustaisi muut kunnat aineistonsa "
                 "ulkopuolelta"),
    "flagged_shift": ("arvio muuttuisi enemmän kuin luottamusvälin puolikkaan verran, jos "
                      "tarkistettaviksi merkityt kunnat jätettäisiin pois"),
    "no_comprehensive_municipalities": "ei kattavia kuntia",
    "too_few_municipalities": "liian vähän kattavia kuntia",
    "zero_base_population": "kattavien kuntien väestöpohja on nolla",
    "model_failed": "mallia ei voitu sovittaa",
    "no_estimate": "arviota ei voitu laskea",
}


#: The estimation methods (``estimate.published_method``): the one Finnish name of each,
#: used wherever a text, table or annex names a method.
ESTIMATION_METHOD_FI = {"ratio": "suhdemenetelmä", "model": "mallipohjainen arvio"}

#: How the published estimate is made, for a sentence "koko maan asiakasmäärä arvioidaan
#: … kattavien kuntien tiedoista" (the quality statement; adessive/essive forms).
ESTIMATION_METHOD_HOW_FI = {
    "ratio": ("suhdemenetelmällä (kattavien kuntien asiakkaiden osuus väestöpohjasta "
              "yleistetään koko maahan)"),
    "model": ("mallipohjaisena arviona (kattavien kuntien havaitut asiakkaat ja muiden kuntien "
              "ennusteet negatiivisesta binomiregressiomallista)"),
}

#: How the publication rule lets an estimate be published (``publish_as``).
PUBLISH_AS_FI = {"point": "pistearvio", "range": "vaihteluväli", "none": "ei arviota"}

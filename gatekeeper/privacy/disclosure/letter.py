"""The reply letter to "where did you get my number?", in Italian or English.

Written for the person, not for a lawyer: where the number came from (supplier, date,
consent and its proof), what we did with it, how to object (the channels of seed 000)
and the right to complain to the Garante. The same blocks render as plain text (to paste
into an e-mail) or as a self-contained HTML page (to print and sign).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

import phonenumbers

from gatekeeper.config import Controller
from gatekeeper.core.htmlpage import e, page
from gatekeeper.core.timeutil import Zone, zone_info
from gatekeeper.decide.policy import IT_TABLE, OWN_CONSENT, PUBLIC_DIRECTORY, THIRD_PARTY_CONSENT
from gatekeeper.jurisdictions import JURISDICTIONS, Jurisdiction, by_region
from gatekeeper.privacy.erasure.erase import (
    KEPT_BACKUPS,
    KEPT_OPTOUT,
    KEPT_RPO,
    KEPT_SUPPRESSION,
    KEPT_UNMANAGED,
)

Block = tuple[str, Any]  # ("h", text) | ("p", text) | ("ul", [text, ...])

T: dict[str, dict[str, str]] = {
    "it": {
        "subject": "Oggetto: origine del Suo numero di telefono {phone} e dati che "
                   "conserviamo",
        "ref": "Riferimento della Sua richiesta: {ref}",
        "date": "Data: {date}",
        "greeting": "Gentile Signora, Gentile Signore,",
        "intro": "ci ha chiesto da dove abbiamo ottenuto il Suo numero di telefono e quali "
                 "dati conserviamo (artt. 14 e 15 del Regolamento (UE) 2016/679). Ecco la "
                 "risposta completa.",
        "none": "Non conserviamo alcun dato relativo al numero {phone}: non compare in "
                "nessuna delle liste che abbiamo ricevuto, né nelle nostre verifiche o "
                "nelle nostre campagne.",
        "h_sources": "Da dove abbiamo ottenuto il Suo numero",
        "internal_archive": "dal nostro archivio clienti",
        "third_party": "da una lista acquistata da {supplier} (P.IVA {vat}{contract})",
        "public_directory": "da un elenco telefonico pubblico fornito da {supplier} "
                            "(P.IVA {vat}{contract})",
        "contract_ref": ", contratto n. {ref}",
        "source": "Il {received} abbiamo ricevuto il Suo numero {origin}.",
        "versions": "Il numero compare anche in {n} versioni precedenti della stessa lista.",
        "held_name": "Nominativo associato al numero: {name}.",
        "held_customer": "Codice cliente: {customer}.",
        "tp_consent": "Secondo il fornitore, il {date}{channel} Lei ha dato il consenso, "
                      "raccolto da {collector}, a essere contattato per offerte commerciali "
                      "di altre aziende{proof}.",
        "own_consent": "Ci ha dato il consenso a ricevere offerte commerciali il {date}"
                       "{channel}{proof}.",
        "tp_basis": "Base giuridica delle nostre chiamate: questo consenso ({law}).",
        "own_basis": "Base giuridica delle nostre chiamate: il Suo consenso ({law}).",
        "no_consent": "Non risulta alcun consenso al marketing.",
        "evidence": "Prove del consenso che il fornitore ci ha trasmesso: {items}.",
        "ev_ip": "indirizzo IP {value}",
        "ev_at": "data e ora {value}",
        "ev_method": "modalità di raccolta {value}",
        "ev_text_id": "testo informativo mostrato n. {value}",
        "ev_sectors": "settori scelti: {value}",
        "vetted": "Abbiamo verificato il fornitore (verifica preventiva prevista dal codice di "
                  "condotta del telemarketing, art. 6) il {date}.",
        "not_vetted": "Il fornitore non risulta verificato da noi secondo il codice di condotta "
                      "del telemarketing (art. 6): il Suo numero non viene chiamato sulla base "
                      "di questa lista.",
        "channel": " tramite {channel}",
        "proof": " (prova del consenso n. {proof})",
        "contract_active": "Il Suo contratto con noi è in essere.",
        "contract_ceased": "Il Suo contratto con noi è cessato{end}.",
        "ended_on": " il {date}",
        "public_rule": "Base giuridica: un numero pubblicato in un elenco pubblico può essere "
                       "chiamato per offerte commerciali solo se non è iscritto al Registro "
                       "Pubblico delle Opposizioni ({law}).",
        "supplier_contact": "Per i dettagli del consenso può rivolgersi anche al fornitore: "
                            "{contact}.",
        "h_campaigns": "Quando e perché l'abbiamo chiamata",
        "campaign": "Campagna «{campaign}» ({purpose}), lista preparata il {date}: {basis}.",
        "no_campaigns": "Il numero non è stato inserito in alcuna lista di chiamata.",
        "telemarketing": "offerte commerciali",
        "survey": "indagine sulla soddisfazione dei clienti",
        "CONTRACT_CONSENT": "sulla base del consenso che ci ha dato come cliente",
        "OWN_CONSENT": "sulla base del consenso al marketing che ci ha dato",
        "THIRD_PARTY_CONSENT": "sulla base del consenso dato al fornitore della lista",
        "PUBLIC_DIRECTORY": "elenco pubblico, numero non iscritto al Registro delle "
                            "Opposizioni",
        "LEGITIMATE_INTEREST": "sulla base del nostro legittimo interesse a chiedere ai "
                               "clienti un giudizio sul servizio",
        "h_calls": "Le telefonate",
        "call": "{when} (ora italiana): {direction} — {campaign}{agency}, dal numero {shown}, "
                "esito: {outcome}",
        "outbound": "L'abbiamo chiamata", "inbound": "Ci ha chiamato",
        "call_campaign": "campagna «{campaign}»", "call_no_campaign": "senza campagna",
        "call_agency": ", call center {agency}",
        "outcome_no_answer": "nessuna risposta",
        "outcome_busy": "occupato",
        "outcome_failed": "non riuscita",
        "outcome_voicemail": "segreteria",
        "outcome_answered": "ha risposto",
        "outcome_refused": "non interessato",
        "outcome_callback": "da richiamare",
        "outcome_optout": "ha chiesto di non essere più chiamato",
        "outcome_wrong_number": "numero errato", "outcome_sale": "contratto concluso",
        "h_rpo": "Verifiche nel Registro Pubblico delle Opposizioni",
        "h_register": "Verifiche nel registro delle opposizioni ({register})",
        "public_other": "elenco pubblico, numero non iscritto al registro delle opposizioni "
                        "({register})",
        "public_rule_other": "Base giuridica: un numero pubblicato in un elenco pubblico può "
                             "essere chiamato per offerte commerciali solo se non è iscritto "
                             "al registro delle opposizioni del paese ({register}; {law}).",
        "rpo_yes": "{date}: il numero risultava iscritto (non chiamabile)",
        "rpo_no": "{date}: il numero non risultava iscritto",
        "no_rpo": "Non abbiamo ancora verificato il numero nel Registro.",
        "h_optouts": "Le Sue opposizioni",
        "optout": "{date}: opposizione registrata ({channel}, {scope}); da allora non La "
                  "chiamiamo più per queste finalità",
        "withdraw": "{date}: opposizione revocata su Sua richiesta",
        "operator": "all'operatore telefonico", "email": "per e-mail", "letter": "per lettera",
        "web": "dal sito web", "api": "dal nostro sistema di chiamata",
        "scope_all": "ogni finalità", "scope_telemarketing": "offerte commerciali",
        "scope_survey": "indagini sulla soddisfazione",
        "h_erased": "Cancellazione dei Suoi dati",
        "erased": "Il {date} abbiamo cancellato i Suoi dati su Sua richiesta (rif. {ref}). "
                  "Conserviamo soltanto il numero in un elenco di esclusione, perché non "
                  "venga più chiamato, e gli esiti delle verifiche nel Registro delle "
                  "Opposizioni, che la legge ci impone di conservare per cinque anni.",
        "kept_intro": "Di seguito, dove si trovavano i Suoi dati e che cosa ne abbiamo fatto:",
        "copy_erased": "{where}: cancellati",
        "copy_store_rows": "i dati ricevuti con le liste, come li conserviamo nel nostro "
                           "sistema",
        "copy_rejects": "le righe delle liste che non abbiamo potuto leggere",
        "copy_campaign_lists": "le liste di chiamata delle nostre campagne",
        "copy_report": "i resoconti delle campagne",
        "copy_calls": "il registro delle telefonate (restano data, call center ed esito di "
                      "ogni chiamata, come prova delle chiamate fatte)",
        "copy_list_file": "i file delle liste che abbiamo ricevuto",
        "copy_rpo": "le verifiche nel Registro delle Opposizioni e i file scambiati con il "
                    "Registro",
        "copy_optouts": "la registrazione della Sua opposizione",
        "copy_other": "altri file del nostro archivio",
        "copy_suppression": "l'elenco dei numeri da non chiamare",
        "copy_backups": "le copie di sicurezza",
        "copy_kept": "{where}: conservati — {why}",
        "kept_rpo_evidence": "obbligo di legge di conservare per cinque anni i file di confronto "
                             "con il Registro delle Opposizioni (art. 17, par. 3, lett. b, GDPR; "
                             "codice di condotta, G.U. 27 marzo 2024)",
        "kept_optout": "la Sua opposizione deve continuare a essere rispettata (artt. 17, par. 3, "
                       "lett. b, e 21 GDPR)",
        "kept_suppression": "solo il numero, perché non venga più chiamato",
        "kept_by_hand": "il file non ha potuto essere modificato automaticamente; il responsabile "
                        "della protezione dei dati lo correggerà a mano",
        "kept_unmanaged": "file non gestito dal sistema; il responsabile della protezione dei dati "
                          "lo correggerà a mano",
        "kept_backups": "copie di sicurezza precedenti, fino alla loro scadenza; se ripristinate, "
                        "la cancellazione viene ripetuta",
        "h_object": "Come opporsi",
        "object": "Può opporsi in qualsiasi momento e gratuitamente alle nostre chiamate "
                  "commerciali, anche se effettuate tramite terzi:",
        "object_a": "dicendolo all'operatore durante una telefonata, che ne prenderà nota "
                    "subito;",
        "object_b": "scrivendo a {email};",
        "object_c": "con una lettera a {name}, {address}.",
        "rpo_hint": "Può anche iscrivere il Suo numero al Registro Pubblico delle "
                    "Opposizioni (www.registrodelleopposizioni.it).",
        "h_complaint": "Reclamo",
        "complaint": "Se ritiene che il trattamento dei Suoi dati non rispetti il Regolamento "
                     "(UE) 2016/679, può proporre reclamo al Garante per la protezione dei "
                     "dati personali, Piazza Venezia 11, 00187 Roma — www.garanteprivacy.it.",
        "regards": "Distinti saluti.",
        "dpo": "Responsabile della protezione dei dati: {email}",
        "title": "Origine del numero {phone}",
    },
    "en": {
        "subject": "Subject: where your phone number {phone} came from, and what we hold",
        "ref": "Your request reference: {ref}",
        "date": "Date: {date}",
        "greeting": "Dear Sir or Madam,",
        "intro": "you asked us where we obtained your phone number and what data we hold "
                 "(Articles 14 and 15 of Regulation (EU) 2016/679). Here is our full answer.",
        "none": "We hold no data about the number {phone}: it is in none of the lists we "
                "have received, nor in our checks or campaigns.",
        "h_sources": "Where we obtained your number",
        "internal_archive": "from our own customer records",
        "third_party": "from a list bought from {supplier} (VAT {vat}{contract})",
        "public_directory": "from a public telephone directory supplied by {supplier} "
                            "(VAT {vat}{contract})",
        "contract_ref": ", contract no. {ref}",
        "source": "On {received} we received your number {origin}.",
        "versions": "The number is also in {n} earlier versions of the same list.",
        "held_name": "The name held with the number: {name}.",
        "held_customer": "Customer code: {customer}.",
        "tp_consent": "According to the supplier, you gave {collector} your consent to be "
                      "contacted with other companies' offers on {date}{channel}{proof}.",
        "own_consent": "You gave us your consent to receive offers on {date}{channel}{proof}.",
        "tp_basis": "The legal basis of our calls: this consent ({law}).",
        "own_basis": "The legal basis of our calls: your consent ({law}).",
        "no_consent": "No marketing consent is recorded.",
        "evidence": "Evidence of the consent the supplier gave us: {items}.",
        "ev_ip": "IP address {value}",
        "ev_at": "date and time {value}",
        "ev_method": "collection method {value}",
        "ev_text_id": "wording shown no. {value}",
        "ev_sectors": "sectors chosen: {value}",
        "vetted": "We vetted the supplier (due diligence under the telemarketing code of "
                  "conduct, Art. 6) on {date}.",
        "not_vetted": "We have not vetted the supplier under the telemarketing code of "
                      "conduct (Art. 6): your number is not called on the strength of this "
                      "list.",
        "channel": " via {channel}",
        "proof": " (consent proof no. {proof})",
        "contract_active": "Your contract with us is in force.",
        "contract_ceased": "Your contract with us has ended{end}.",
        "ended_on": " on {date}",
        "public_rule": "Legal basis: a number published in a public directory may be called "
                       "with offers only if it is not registered in the Registro Pubblico delle "
                       "Opposizioni (Italy's do-not-call register; {law}).",
        "supplier_contact": "You may also ask the supplier about the consent: {contact}.",
        "h_campaigns": "When and why we called you",
        "campaign": "Campaign “{campaign}” ({purpose}), list prepared on {date}: {basis}.",
        "no_campaigns": "The number has not been put on any call list.",
        "telemarketing": "commercial offers",
        "survey": "customer-satisfaction survey",
        "CONTRACT_CONSENT": "on the consent you gave us as a customer",
        "OWN_CONSENT": "on the marketing consent you gave us",
        "THIRD_PARTY_CONSENT": "on the consent you gave the list's supplier",
        "PUBLIC_DIRECTORY": "public directory, number not in the do-not-call register",
        "LEGITIMATE_INTEREST": "on our legitimate interest in asking customers about our "
                               "service",
        "h_calls": "The calls",
        "call": "{when} (Italian time): {direction} — {campaign}{agency}, from the number "
                "{shown}, outcome: {outcome}",
        "outbound": "we called you", "inbound": "you called us",
        "call_campaign": "campaign “{campaign}”", "call_no_campaign": "no campaign",
        "call_agency": ", call centre {agency}",
        "outcome_no_answer": "no answer",
        "outcome_busy": "busy",
        "outcome_failed": "did not go through",
        "outcome_voicemail": "voicemail",
        "outcome_answered": "answered",
        "outcome_refused": "not interested",
        "outcome_callback": "to call back", "outcome_optout": "asked not to be called again",
        "outcome_wrong_number": "wrong number", "outcome_sale": "contract signed",
        "h_rpo": "Checks in the do-not-call register (RPO)",
        "h_register": "Checks in the do-not-call register ({register})",
        "public_other": "public directory, number not in the do-not-call register "
                        "({register})",
        "public_rule_other": "Legal basis: a number published in a public directory may be "
                             "called with offers only if it is not registered in the "
                             "country's do-not-call register ({register}; {law}).",
        "rpo_yes": "{date}: the number was registered (not callable)",
        "rpo_no": "{date}: the number was not registered",
        "no_rpo": "We have not yet checked the number in the register.",
        "h_optouts": "Your objections",
        "optout": "{date}: objection recorded ({channel}, {scope}); since then we do not "
                  "call you for these purposes",
        "withdraw": "{date}: objection withdrawn at your request",
        "operator": "told to our operator", "email": "by e-mail", "letter": "by letter",
        "web": "on our website", "api": "from our dialling system",
        "scope_all": "all purposes", "scope_telemarketing": "commercial offers",
        "scope_survey": "satisfaction surveys",
        "h_erased": "Erasure of your data",
        "erased": "On {date} we erased your data at your request (ref. {ref}). We keep only "
                  "the number in a suppression list, so that it is never called again, and "
                  "the results of the do-not-call register checks, which the law requires us "
                  "to keep for five years.",
        "kept_intro": "Below, where your data was and what we did with each copy:",
        "copy_erased": "{where}: erased",
        "copy_store_rows": "the data received with the lists, as our system keeps it",
        "copy_rejects": "the rows of the lists we could not read",
        "copy_campaign_lists": "our campaigns' call lists",
        "copy_report": "the campaign reports",
        "copy_calls": "the record of calls (the date, call centre and outcome of each call "
                      "stay, as evidence of the calls made)",
        "copy_list_file": "the files of the lists we received",
        "copy_rpo": "the checks in the do-not-call register and the files exchanged with it",
        "copy_optouts": "the record of your objection",
        "copy_other": "other files of our archive",
        "copy_suppression": "the list of numbers never to be called",
        "copy_backups": "the backup copies",
        "copy_kept": "{where}: kept — {why}",
        "kept_rpo_evidence": "the law requires us to keep the comparison files with the "
                             "do-not-call register for five years (Art. 17(3)(b) GDPR; "
                             "code of conduct, Gazzetta Ufficiale 27 March 2024)",
        "kept_optout": "your objection must go on being honoured (Art. 17(3)(b) and 21 GDPR)",
        "kept_suppression": "only the number, so that it is never called again",
        "kept_by_hand": "the file could not be edited automatically; our data protection officer "
                        "will correct it by hand",
        "kept_unmanaged": "a file our system does not manage; our data protection officer will "
                          "correct it by hand",
        "kept_backups": "earlier backup copies, until they expire; if one is restored, the erasure "
                        "is repeated",
        "h_object": "How to object",
        "object": "You may object at any time, free of charge, to our marketing calls, "
                  "including calls made on our behalf:",
        "object_a": "by telling the operator during a call, who will record it at once;",
        "object_b": "by e-mail to {email};",
        "object_c": "by letter to {name}, {address}.",
        "rpo_hint": "You may also register your number in the Registro Pubblico delle "
                    "Opposizioni (www.registrodelleopposizioni.it).",
        "h_complaint": "Complaints",
        "complaint": "If you believe that the processing of your data breaches Regulation "
                     "(EU) 2016/679, you may lodge a complaint with the Garante per la "
                     "protezione dei dati personali, Piazza Venezia 11, 00187 Rome, Italy — "
                     "www.garanteprivacy.it.",
        "regards": "Yours faithfully,",
        "dpo": "Data protection officer: {email}",
        "title": "Where the number {phone} came from",
    },
}
LANGS = tuple(T)


def held_names(sources: list[dict[str, Any]]) -> list[str]:
    """The distinct names the number is held under, in every version of every source (as
    first spelt; case and spacing do not make a second name). Two or more: the number has
    (or had) another holder, so the letter names nobody and the DPO is warned."""
    names: dict[str, str] = {}
    for rec in sources:
        name = " ".join((rec.get("name") or "").split())
        if name:
            names.setdefault(name.casefold(), name)
    return list(names.values())


def copy_kind(copy: dict[str, Any]) -> str:
    """What an erased or kept copy is (its `kind`); erasures recorded before copies had
    one are read from their `where` and reason, as erase wrote them then."""
    if copy.get("kind"):
        return str(copy["kind"])
    fixed = {"store: list rows": "store_rows", "store: campaign lists": "campaign_lists",
             "data/ledger (calls)": "calls", "store: erasure entry": "suppression",
             "store: RPO checks and exchange files": "rpo", "backups": "backups"}
    by_why = {KEPT_RPO: "rpo", KEPT_OPTOUT: "optouts", KEPT_UNMANAGED: "other",
              KEPT_SUPPRESSION: "suppression", KEPT_BACKUPS: "backups"}
    return (fixed.get(copy["where"]) or by_why.get(copy.get("why") or "")
            or ("report" if copy.get("detail") == "report rewritten" else "list_file"))


def _copies(copies: list[dict[str, Any]], t: dict[str, str]) -> list[str]:
    """The copies in words, one line per kind of copy and what was done to it (the paths
    and file names stay in the JSON and the DPO's preview)."""
    groups: dict[tuple[str, str, str], int] = {}
    for c in copies:
        key = (copy_kind(c), c["action"], c.get("why") or "")
        groups[key] = groups.get(key, 0) + 1
    lines = []
    for (kind, action, why), n in groups.items():
        where = t.get(f"copy_{kind}", t["copy_other"]) + (f" ({n})" if n > 1 else "")
        lines.append(t["copy_erased"].format(where=where) if action == "erased" else
                     t["copy_kept"].format(where=where, why=t.get(f"kept_{why}", why)))
    return lines


def _day(value: str | None, lang: str) -> str:
    if not value:
        return "—"
    day = dt.date.fromisoformat(value[:10])
    return day.strftime("%d/%m/%Y") if lang == "it" else day.isoformat()


def _moment(value: str | None, lang: str, zone: Zone) -> str:
    """An ISO instant in the jurisdiction's local time (the person's clock)."""
    if not value:
        return "—"
    local = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(
        zone_info(zone))
    return local.strftime("%d/%m/%Y %H:%M" if lang == "it" else "%Y-%m-%d %H:%M")


def _evidence(consent: dict[str, Any], supplier: dict[str, Any], t: dict[str, str],
              lang: str, zone: Zone) -> list[str]:
    """The consent's evidence held, and the supplier's due diligence (code of conduct art. 6)."""
    items = []
    for key in ("ip", "at", "method", "text_id", "sectors"):
        value = consent.get(key)
        if value:
            text = (_moment(value, lang, zone) if key == "at" else
                    ", ".join(value) if key == "sectors" else str(value))
            items.append(t[f"ev_{key}"].format(value=text))
    parts = [t["evidence"].format(items="; ".join(items))] if items else []
    reviewed = (supplier.get("due_diligence") or {}).get("reviewed_on")
    parts.append(t["vetted"].format(date=_day(reviewed, lang)) if reviewed
                 else t["not_vetted"])
    return parts


def country_of(phone: str) -> Jurisdiction:
    """The country whose law and register the letter cites for this number: its own
    (libphonenumber's region), Italy where none of Gatekeeper's is."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        region = None
    return by_region(region, tuple(JURISDICTIONS.values())) or JURISDICTIONS["IT"]


def _basis_words(t: dict[str, str], basis: str, country: Jurisdiction) -> str:
    """A campaign's basis in the person's words; a directory number of another country was
    checked in that country's register, not Italy's."""
    if basis == PUBLIC_DIRECTORY and country.code != "IT" and country.register is not None:
        return t["public_other"].format(register=country.register.name)
    return t[basis]


def _law(country: Jurisdiction, code: str) -> str:
    """A basis's citation in the number's country's table (Italy's where it has none)."""
    table = country.table
    return table.law(code) if code in table.codes else IT_TABLE.law(code)


def _source_blocks(records: list[dict[str, Any]], t: dict[str, str], lang: str,
                   zone: Zone, country: Jurisdiction) -> list[str]:
    """One paragraph per source (its newest version), in the person's words: who supplied
    it and when, the kind of list, the consent and the legal basis. No list id, row or
    checksum (the DPO's, in the JSON); the name only when it is the number's only one."""
    one_name = len(held_names(records)) == 1
    by_source: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_source.setdefault(rec["source_id"], []).append(rec)
    out = []
    for recs in by_source.values():
        rec = max(recs, key=lambda r: (r["version"], -r["row"]))
        sup = rec["supplier"] or {}
        contract = t["contract_ref"].format(ref=sup["contract_ref"]) if sup.get(
            "contract_ref") else ""
        origin = t[rec["kind"]].format(supplier=sup.get("name") or "—",
                                       vat=sup.get("vat") or "—", contract=contract)
        parts = [t["source"].format(received=_day(rec["received_on"], lang), origin=origin)]
        earlier = {r["version"] for r in recs} - {rec["version"]}
        if earlier:
            parts.append(t["versions"].format(n=len(earlier)))
        if one_name and rec.get("name"):
            parts.append(t["held_name"].format(name=" ".join(rec["name"].split())))
        if one_name and rec.get("customer_id"):
            parts.append(t["held_customer"].format(customer=rec["customer_id"]))
        c = rec["consent"]
        channel = t["channel"].format(channel=c["channel"]) if c.get("channel") else ""
        proof = t["proof"].format(proof=c["proof"]) if c.get("proof") else ""
        if rec["kind"] == "third_party":
            if c.get("third_party"):
                parts += [t["tp_consent"].format(
                    collector=c.get("collector") or sup.get("name") or "—",
                    date=_day(c.get("date"), lang), channel=channel, proof=proof),
                    t["tp_basis"].format(law=_law(country, THIRD_PARTY_CONSENT))]
            else:
                parts.append(t["no_consent"])
            parts += _evidence(c, sup, t, lang, zone)
        elif rec["kind"] == "internal_archive":
            parts += ([t["own_consent"].format(date=_day(c.get("date"), lang),
                                               channel=channel, proof=proof),
                        t["own_basis"].format(law=_law(country, OWN_CONSENT))]
                      if c.get("marketing") else [t["no_consent"]])
            if rec.get("contract_status") == "active":
                parts.append(t["contract_active"])
            elif rec.get("contract_status") == "ceased":
                end = rec.get("contract_end")
                parts.append(t["contract_ceased"].format(
                    end=t["ended_on"].format(date=_day(end, lang)) if end else ""))
        elif country.code == "IT" or country.register is None:
            parts.append(t["public_rule"].format(law=IT_TABLE.law(PUBLIC_DIRECTORY)))
        else:
            parts.append(t["public_rule_other"].format(
                register=country.register.name, law=_law(country, PUBLIC_DIRECTORY)))
        if sup.get("contact") and rec["kind"] == "third_party":
            parts.append(t["supplier_contact"].format(contact=sup["contact"]))
        out.append(" ".join(parts))
    return out


def letter_blocks(data: dict[str, Any], controller: Controller, lang: str = "it",
                  ref: str | None = None) -> list[Block]:
    """The letter as blocks (headings, paragraphs, lists), independent of the format."""
    t = T[lang]
    phone = data["phone"]
    country = country_of(phone)
    blocks: list[Block] = [
        ("head", f"{controller.name}\n{controller.address}\n"
                 f"{'P.IVA' if lang == 'it' else 'VAT'} {controller.vat}"),
        ("p", t["date"].format(date=_day(data["generated_at"], lang))),
    ]
    if ref:
        blocks.append(("p", t["ref"].format(ref=ref)))
    blocks += [("subject", t["subject"].format(phone=phone)), ("p", t["greeting"]),
               ("p", t["intro"])]
    if not data["held"]:
        blocks.append(("p", t["none"].format(phone=phone)))
    if data["sources"]:
        blocks += [("h", t["h_sources"]), ("ul", _source_blocks(data["sources"], t, lang,
                                                                data["timezone"], country))]
    if data["erased"]:
        er = data["erased"]
        blocks += [("h", t["h_erased"]), ("p", t["erased"].format(
            date=_day(er["erased_at"], lang), ref=er["request_ref"]))]
        copies = _copies(er.get("copies") or [], t)
        if copies:
            blocks += [("p", t["kept_intro"]), ("ul", copies)]
    if data["held"]:
        # A run repeated with the same inputs lists the number again on the same day for
        # the same reason: one line for the person (the JSON keeps every execution).
        campaigns = list(dict.fromkeys(
            t["campaign"].format(campaign=c["campaign"], purpose=t[c["purpose"]],
                                 date=_day(c["as_of"], lang), basis=_basis_words(
                                     t, c["basis"], country))
            for c in data["campaigns"]))
        blocks += [("h", t["h_campaigns"]),
                   ("ul", campaigns) if campaigns else ("p", t["no_campaigns"])]
        calls = [t["call"].format(
            when=_moment(c["started_at"], lang, data["timezone"]), direction=t[c["direction"]],
            campaign=(t["call_campaign"].format(campaign=c["campaign"]) if c["campaign"]
                      else t["call_no_campaign"]),
            # the call centre by the name its manifest gives, never by our id for it
            agency=t["call_agency"].format(agency=c["agency_name"]) if c["agency_name"]
            else "",
            shown=c["caller_id"] or "—", outcome=t.get(f"outcome_{c['outcome']}", c["outcome"]))
            for c in data.get("calls") or []]
        if calls:
            blocks += [("h", t["h_calls"]), ("ul", calls)]
        checks = [t["rpo_yes" if c["registered"] else "rpo_no"].format(
            date=_day(c["checked_at"], lang)) for c in data["rpo_checks"]]
        heading = (t["h_rpo"] if country.code == "IT" or country.register is None
                   else t["h_register"].format(register=country.register.name))
        if country.code == "IT" or country.register is not None:
            blocks += [("h", heading), ("ul", checks) if checks else ("p", t["no_rpo"])]
    if data["optouts"]:
        items = [t["withdraw"].format(date=_day(o["at"], lang)) if o["type"] == "withdraw"
                 else t["optout"].format(date=_day(o["at"], lang),
                                         channel=t.get(o["channel"] or "", o["channel"]),
                                         scope=t[f"scope_{o['scope'] or 'all'}"])
                 for o in data["optouts"]]
        blocks += [("h", t["h_optouts"]), ("ul", items)]
    blocks += [
        ("h", t["h_object"]), ("p", t["object"]),
        ("ul", [t["object_a"], t["object_b"].format(email=controller.dpo_email),
                t["object_c"].format(name=controller.name, address=controller.address)]),
        *((("p", t["rpo_hint"]),) if country.code == "IT" else ()),
        ("h", t["h_complaint"]), ("p", t["complaint"]),
        ("p", t["regards"]),
        ("sign", f"{controller.name}\n{t['dpo'].format(email=controller.dpo_email)}"),
    ]
    return blocks


def render_text(blocks: list[Block], width: int = 88) -> str:
    out: list[str] = []
    for kind, value in blocks:
        if kind == "ul":
            for item in value:
                out.append(textwrap.fill(item, width, initial_indent="  - ",
                                         subsequent_indent="    "))
            out.append("")
        elif kind == "h":
            out += [value, "-" * len(value)]
        elif kind in ("head", "sign"):
            out += [*value.split("\n"), ""]
        else:
            out += [textwrap.fill(value, width), ""]
    return "\n".join(out).rstrip() + "\n"


def letter_body(blocks: list[Block]) -> str:
    """The letter's HTML without its page, so the DPO's preview can show it under the
    warnings exactly as the person will read it."""
    parts = []
    for kind, value in blocks:
        if kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in value) + "</ul>")
        elif kind == "h":
            parts.append(f"<h2>{e(value)}</h2>")
        elif kind == "head":
            parts.append('<p class="letterhead">' + "<br>".join(map(e, value.split("\n")))
                         + "</p>")
        elif kind == "subject":
            parts.append(f"<h1>{e(value)}</h1>")
        elif kind == "sign":
            parts.append('<p class="signature">' + "<br>".join(map(e, value.split("\n")))
                         + "</p>")
        else:
            parts.append(f"<p>{e(value)}</p>")
    return "\n".join(parts)


def render_html(blocks: list[Block], title: str, lang: str) -> str:
    return page(title, letter_body(blocks), lang)


def letter_title(data: dict[str, Any], lang: str) -> str:
    return T[lang]["title"].format(phone=data["phone"])


def render_letter(data: dict[str, Any], controller: Controller, fmt: str = "text",
                  lang: str = "it", ref: str | None = None) -> str:
    """The reply letter as text or HTML."""
    blocks = letter_blocks(data, controller, lang, ref)
    if fmt == "html":
        return render_html(blocks, letter_title(data, lang), lang)
    return render_text(blocks)


def letter_bytes(data: dict[str, Any], controller: Controller, fmt: str = "text",
                 lang: str = "it", ref: str | None = None) -> bytes:
    """The reply letter as the file sent to the person: text or HTML (UTF-8), or PDF."""
    if fmt == "pdf":
        from gatekeeper.privacy.disclosure.pdf import render_pdf

        return render_pdf(letter_blocks(data, controller, lang, ref), letter_title(data, lang),
                          lang, controller.name, data["generated_at"])
    return render_letter(data, controller, fmt, lang, ref).encode("utf-8")

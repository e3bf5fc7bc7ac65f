"""The command line, install.sh and uninstall.sh speak the user's language: ui.language, else the system's (LANG).

Real processes: `agent.py` run with a LANG, a config.json naming ui.language, or neither (English, unchanged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.i18n import compile_catalogs
from tests.helpers import ROOT


@pytest.fixture(scope="module", autouse=True)
def catalogs() -> None:
    compile_catalogs()  # what the test command and the bootstrap do; a fresh checkout has no .mo files


def _env(**extra: str) -> dict[str, str]:
    """The test's environment without any locale variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env.pop("CRM_AGENT__UI__LANGUAGE", None)
    return {**env, **extra}


def _agent(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "agent.py"), *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_a_command_answers_in_the_system_language_and_english_by_default(tmp_path: Path):
    data = tmp_path / "agent"
    config = data / "config.json"
    pt = _agent("config", "check", "--data-dir", str(data), env=_env(LANG="pt_BR.UTF-8"))
    es = _agent("config", "check", "--data-dir", str(data), env=_env(LANG="es_MX.UTF-8"))
    en = _agent("config", "check", "--data-dir", str(data), env=_env())
    assert pt.stdout.strip() == f"{config}: não existe; valem os valores padrão", pt.stderr
    assert es.stdout.strip() == f"{config}: no existe; se usan los valores predeterminados", es.stderr
    assert en.stdout.strip() == f"{config}: not present; defaults apply", en.stderr


def test_ui_language_in_the_config_wins_over_the_system_language(tmp_path: Path):
    data = tmp_path / "agent"
    data.mkdir()
    (data / "config.json").write_text(json.dumps({"ui": {"language": "es"}}))
    saved = _agent("sync", "set-token", "--token-stdin", "--data-dir", str(data), env=_env(LANG="pt_BR.UTF-8"),
                   stdin="a-token\n")
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip() == f"token del hub guardado en {data / 'hub_token'} (solo tú puedes leerlo)"
    missing = _agent("sync", "set-token", "--token-stdin", "--data-dir", str(data), env=_env(LANG="pt_BR.UTF-8"))
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no hay token en la entrada estándar"


def test_an_invalid_config_is_told_in_the_system_language(tmp_path: Path):
    data = tmp_path / "agent"
    data.mkdir()
    (data / "config.json").write_text("{not json")
    check = _agent("config", "check", "--data-dir", str(data), env=_env(LANG="pt_BR.UTF-8"))
    assert check.returncode == 1
    assert check.stderr.startswith(f"{data / 'config.json'}: inválido: "), check.stderr


def test_help_is_translated_where_argparse_lets_it(tmp_path: Path):
    pt = _agent("--help", env=_env(LANG="pt_BR.UTF-8", CRM_AGENT_HOME=str(tmp_path / "agent")))
    assert pt.returncode == 0, pt.stderr
    assert "CRM Agent: seu assistente local para vendas no WhatsApp." in pt.stdout
    assert "rodar só o serviço, sem janelas" in pt.stdout
    es = _agent("backup", "--help", env=_env(LANG="es_AR.UTF-8", CRM_AGENT_HOME=str(tmp_path / "agent")))
    assert "listar las copias, de la más nueva a la más antigua" in es.stdout, es.stderr
    en = _agent("--help", env=_env(CRM_AGENT_HOME=str(tmp_path / "agent")))
    assert "CRM Agent: a local companion for WhatsApp sales." in en.stdout and "run the service headless" in en.stdout


# -- install.sh / uninstall.sh ------------------------------------------------------------------------------


def _script(name: str, *args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_DATA_HOME": str(home / ".local" / "share"), **env}
    return subprocess.run(["bash", str(ROOT / name), *args], env=environ, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_install_sh_help_and_errors_in_the_users_language(tmp_path: Path):
    pt = _script("install.sh", "--help", home=tmp_path, LANG="pt_BR.UTF-8")
    assert pt.returncode == 0 and pt.stdout.startswith("Instala o CRM Agent para o usuário atual"), pt.stderr
    assert "--autostart      abre o agente ao entrar na sessão, sem perguntar" in pt.stdout
    es = _script("install.sh", "--nope", home=tmp_path, LANGUAGE="fr:es", LANG="fr_FR.UTF-8")
    assert es.returncode == 2 and es.stderr.startswith("opción desconocida: --nope"), es.stderr
    assert "Instala CRM Agent para el usuario actual" in es.stdout
    en = _script("install.sh", "--help", home=tmp_path, LANG="C.UTF-8")
    assert en.stdout.startswith("Install CRM Agent for the current user from this source tree"), en.stderr


def test_uninstall_sh_says_what_it_did_in_the_users_language(tmp_path: Path):
    """Nothing installed in this HOME: uninstall.sh only reports, in Portuguese, then in English."""
    data = tmp_path / ".local" / "share" / "crm-agent"
    data.mkdir(parents=True)
    prefix = tmp_path / ".local" / "lib" / "crm-agent"
    pt = _script("uninstall.sh", home=tmp_path, LANG="pt_BR.UTF-8")
    assert pt.returncode == 0, pt.stderr
    assert f"programa: {prefix} não existe (já foi removido)" in pt.stdout
    assert f"dados mantidos: {data} (uninstall.sh --purge apaga)" in pt.stdout
    en = _script("uninstall.sh", home=tmp_path)
    assert f"data kept: {data} (uninstall.sh --purge deletes it)" in en.stdout, en.stderr

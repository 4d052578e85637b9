# Source this file (`. scripts/env.sh`) to use plain `pulumi ...` commands here:
# the project's toolchain and virtualenv come first on PATH, state lives in the
# repo's file backend (.state/, ignored), no Pulumi Cloud login is involved.
_st_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PATH="$_st_root/.tools/bin:$_st_root/.venv/bin:$PATH"
export PULUMI_HOME="$_st_root/.tools/pulumi-home"
export PULUMI_BACKEND_URL="file://$_st_root/.state"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
# Local stacks use the passphrase secrets provider: export PULUMI_CONFIG_PASSPHRASE
# yourself (the dev stack's is the dev-only `script-tracking-dev`, see Makefile).
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ]; then
    echo "scripts/env.sh: set PULUMI_CONFIG_PASSPHRASE (dev stack: script-tracking-dev)" >&2
fi
mkdir -p "$_st_root/.state" "$PULUMI_HOME"
unset _st_root

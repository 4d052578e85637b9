# Source this file (`. scripts/env.sh`) to use plain `pulumi ...` commands here:
# the project's toolchain and virtualenv come first on PATH, state lives in the
# repo's file backend (.state/, ignored), no Pulumi Cloud login is involved.
_st_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PATH="$_st_root/.tools/bin:$_st_root/.venv/bin:$PATH"
export PULUMI_HOME="$_st_root/.tools/pulumi-home"
export PULUMI_BACKEND_URL="file://$_st_root/.state"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
# Local stacks use the passphrase secrets provider. The dev stack's passphrase is
# a published dev-only value (its only secret is the local server's password);
# set your own PULUMI_CONFIG_PASSPHRASE for any other stack.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-script-tracking-dev}"
mkdir -p "$_st_root/.state" "$PULUMI_HOME"
unset _st_root

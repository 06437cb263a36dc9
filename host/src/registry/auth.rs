//! Registry credentials: `WASMHOOK_REGISTRY_USERNAME` and `WASMHOOK_REGISTRY_PASSWORD` (for a
//! Kubernetes Secret or a CI job), else the docker config file that `docker login` writes
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; read by the `docker_credential`
//! crate, credential helpers included), else anonymous. What a lookup failed on is logged
//! without the helper's output, which may hold a secret.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

pub const USERNAME_VAR: &str = "WASMHOOK_REGISTRY_USERNAME";
pub const PASSWORD_VAR: &str = "WASMHOOK_REGISTRY_PASSWORD";

/// The credentials to present to `registry` (`host[:port]`).
pub fn credentials(registry: &str) -> RegistryAuth {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(username), Some(password)) = (var(USERNAME_VAR), var(PASSWORD_VAR)) {
        return RegistryAuth::Basic(username, password);
    }
    if !docker_config_exists() {
        return RegistryAuth::Anonymous;
    }
    match docker_credential::get_credential(registry) {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            RegistryAuth::Basic(username, password)
        }
        Ok(DockerCredential::IdentityToken(_)) => {
            tracing::warn!(
                registry,
                "the docker config holds an identity token for this registry, which wasmhook cannot use; pulling anonymously"
            );
            RegistryAuth::Anonymous
        }
        Err(
            CredentialRetrievalError::ConfigNotFound
            | CredentialRetrievalError::NoCredentialConfigured,
        ) => RegistryAuth::Anonymous,
        Err(error) => {
            let why = match error {
                CredentialRetrievalError::HelperFailure { helper, .. } => {
                    format!("its credential helper `docker-credential-{helper}` failed")
                }
                other => other.to_string(),
            };
            tracing::warn!(
                registry,
                why,
                "cannot read the docker config's credentials; pulling anonymously"
            );
            RegistryAuth::Anonymous
        }
    }
}

/// Whether there is a docker config file to read (where `docker_credential` looks for it).
fn docker_config_exists() -> bool {
    let folder = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".docker"))
        });
    folder.is_some_and(|folder| folder.join("config.json").is_file())
}

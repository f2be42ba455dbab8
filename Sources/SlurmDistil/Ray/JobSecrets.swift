extension SecretRedactor {
    /// What a job's output must not show: the secret-looking variables of `environment`, the values
    /// a runtime_env marked secret, and the cluster's token.
    public init(environment: [String: String], runtimeEnvSecrets: Set<String> = [], token: RayToken?) {
        self.init(runtimeEnvSecrets.union(Self.secrets(in: environment)).union([token?.value].compactMap { $0 }))
    }
}

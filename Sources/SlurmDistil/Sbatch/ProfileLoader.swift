/// Finds and reads the profile that applies: an explicit file, else the first that exists in the search path.
public struct ProfileLoader {
    let files: any FileSystem

    public init(files: any FileSystem) {
        self.files = files
    }

    public func load(explicitPath: String?, disabled: Bool, workingDirectory: String, environment: [String: String])
        throws(Failure) -> Settings
    {
        if disabled { return Settings() }
        if let explicitPath {
            guard files.fileExists(explicitPath) else {
                throw Failure.usage("profile \(explicitPath) does not exist", hint: "check the --profile path")
            }
            return try Profile.parse(files.read(explicitPath), path: explicitPath)
        }
        for path in Profile.searchPaths(workingDirectory: workingDirectory, environment: environment)
        where files.fileExists(path) {
            return try Profile.parse(files.read(path), path: path)
        }
        return Settings()
    }
}

/// Built-in templates by name, or a user's template file.
public struct TemplateCatalog {
    let files: any FileSystem

    public init(files: any FileSystem) {
        self.files = files
    }

    /// Returns the template's display name and text.
    public func resolve(_ nameOrPath: String) throws(Failure) -> (name: String, text: String) {
        if let text = SbatchRenderer.builtInTemplates[nameOrPath] {
            return (nameOrPath, text)
        }
        guard files.fileExists(nameOrPath) else {
            throw Failure.usage(
                "template '\(nameOrPath)' is neither a built-in template nor an existing file",
                hint: "built-in templates: \(SbatchRenderer.builtInTemplates.keys.sorted().joined(separator: ", ")); or give a path to a .mustache file")
        }
        return (nameOrPath, try files.read(nameOrPath))
    }

    /// The template's first descriptive comment line, for `templates list`.
    public static func summary(of text: String) -> String {
        let line = text.split(separator: "\n").dropFirst().first { $0.hasPrefix("# ") } ?? ""
        guard let colon = line.range(of: ": ") else { return String(line.dropFirst(2)) }
        return String(line[colon.upperBound...])
    }
}

public enum SlurmDistilVersion {
    public static let current = "0.1.0"
}

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "slurm-distil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "slurm-distil", targets: ["slurm-distil"]),
        .library(name: "SlurmDistil", targets: ["SlurmDistil"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries: module maps over Debian's -dev packages, with small non-variadic shims.
        .systemLibrary(
            name: "CSlurm",
            providers: [.apt(["libslurm-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),

        // The library: pure planning and rendering, plus the edges (libslurm, libcurl, processes).
        .target(
            name: "SlurmDistil",
            dependencies: [
                "CSlurm",
                "CCurl",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Yams", package: "Yams"),
            ],
            plugins: ["EmbedTemplates"]
        ),
        // Commands: argument parsing only, and the one place that turns errors into exit codes.
        .target(
            name: "SlurmDistilCLI",
            dependencies: [
                "SlurmDistil",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "slurm-distil", dependencies: ["SlurmDistilCLI", "CCompat"]),
        // Link-time wrappers that keep the release binary on glibc 2.34 and GCC 11's libstdc++ (scripts/release).
        .target(name: "CCompat"),

        // templates/*.mustache are compiled into the binary, so a binary copied alone still works.
        .executableTarget(name: "TemplateEmbedder", path: "Sources/TemplateEmbedder"),
        .plugin(
            name: "EmbedTemplates",
            capability: .buildTool(),
            dependencies: ["TemplateEmbedder"]
        ),

        // Helpers shared by both test targets: processes, paths, the virtual cluster.
        .target(name: "TestSupport", dependencies: ["SlurmDistil"], path: "Tests/TestSupport"),
        .testTarget(
            name: "SlurmDistilTests", dependencies: ["SlurmDistil", "SlurmDistilCLI", "TestSupport"], exclude: ["Golden", "Fixtures"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SlurmDistil", "TestSupport"]),
    ]
)

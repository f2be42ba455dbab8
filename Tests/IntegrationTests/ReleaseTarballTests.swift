import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// The tarball of `scripts/release` as a user gets it: checksum, contents, `make install` and
/// `make uninstall`, and a binary that links neither libslurm nor the Swift toolchain.
@Suite(.enabled(if: ReleaseBinary.path != nil))
struct ReleaseTarballTests {
    /// dist/slurm-distil-VERSION-linux-ARCH, the unpacked folder the binary lives in.
    let stage = URL(fileURLWithPath: ReleaseBinary.path ?? "/").deletingLastPathComponent().deletingLastPathComponent()
    var tarball: URL { stage.deletingLastPathComponent().appending(path: stage.lastPathComponent + ".tar.gz") }

    func shell(_ script: String, in directory: URL? = nil) throws -> ProcessResult {
        try runProcess("/bin/sh", ["-c", script], directory: directory)
    }

    @Test func checksumAndContents() throws {
        #expect(stage.lastPathComponent == "slurm-distil-\(SlurmDistilVersion.current)-linux-x86_64")
        let check = try shell("sha256sum -c \(tarball.lastPathComponent).sha256", in: tarball.deletingLastPathComponent())
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        let listing = try shell("tar tzf \(tarball.path) | sort")
        let name = stage.lastPathComponent
        for file in [
            "bin/slurm-distil", "share/man/man1/slurm-distil.1", "share/bash-completion/completions/slurm-distil",
            "share/zsh/site-functions/_slurm-distil", "share/fish/vendor_completions.d/slurm-distil.fish", "INSTALL.md", "Makefile",
        ] {
            #expect(listing.stdout.contains("\(name)/\(file)\n"), "\(file) missing from the tarball")
        }
        // Either the project's license or the note that there is none yet: never neither.
        #expect(listing.stdout.contains("\(name)/LICENSE\n") || listing.stdout.contains("\(name)/LICENSE-NOT-YET-CHOSEN\n"))
    }

    @Test func theBinaryCarriesItsRuntimeAndOpensLibslurmItself() throws {
        let needed = try shell("readelf -d \(stage.path)/bin/slurm-distil | grep NEEDED")
        #expect(needed.status == 0)
        #expect(!needed.stdout.contains("libslurm"), "\(needed.stdout)")
        #expect(!needed.stdout.contains("libswift") && !needed.stdout.contains("libFoundation"), "\(needed.stdout)")
        #expect(needed.stdout.contains("libcurl.so.4"))
        // scripts/release --check fails on a newer glibc or libstdc++ than the README states.
        let floor = try runProcess(PackagePaths.root.appending(path: "scripts/release").path, ["--check"])
        #expect(floor.status == 0, "\(floor.stderr)")
        #expect(floor.stderr.contains("GLIBC_2.34"), "\(floor.stderr)")
    }

    @Test func installAndUninstall() throws {
        let prefix = try temporaryDirectory()
        let install = try shell("make -s install PREFIX=\(prefix.path)", in: stage)
        #expect(install.status == 0, "\(install.stderr)")
        let installed = try shell("cd \(prefix.path) && find . -type f | sort")
        #expect(installed.stdout == """
            ./bin/slurm-distil
            ./share/bash-completion/completions/slurm-distil
            ./share/fish/vendor_completions.d/slurm-distil.fish
            ./share/man/man1/slurm-distil.1
            ./share/zsh/site-functions/_slurm-distil

            """)
        let version = try runProcess(prefix.appending(path: "bin/slurm-distil").path, ["--version"])
        #expect(version.stdout == SlurmDistilVersion.current + "\n")
        let completion = try shell("bash -c '. \(prefix.path)/share/bash-completion/completions/slurm-distil && complete -p slurm-distil'")
        #expect(completion.stdout.contains("-F _slurm-distil slurm-distil"), "\(completion.stderr)")
        let manual = try shell("MANWIDTH=80 man -l \(prefix.path)/share/man/man1/slurm-distil.1 2>/dev/null")
        #expect(manual.stdout.contains("gen-sbatch"))
        #expect(!manual.stdout.contains("Internal: run Ray on this node"), "the internal node agent is not documented")
        let uninstall = try shell("make -s uninstall PREFIX=\(prefix.path)", in: stage)
        #expect(uninstall.status == 0)
        #expect(try shell("cd \(prefix.path) && find . -type f").stdout.isEmpty)
    }
}

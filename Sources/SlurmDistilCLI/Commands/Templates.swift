import ArgumentParser
import Foundation
import SlurmDistil

struct Templates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or print the sbatch templates built into slurm-distil.",
        discussion: """
            Examples:
              slurm-distil templates list
              slurm-distil templates show sbatch > my.mustache   # edit, then: gen-sbatch --template my.mustache
            """,
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the built-in templates.")

        func run() async throws {
            for (name, text) in SbatchRenderer.builtInTemplates.sorted(by: { $0.key < $1.key }) {
                let summary = TemplateCatalog.summary(of: text)
                print(name.padding(toLength: 16, withPad: " ", startingAt: 0) + summary)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a built-in template.")

        @Argument(help: "Template name, from `templates list`.")
        var name: String

        func run() async throws {
            guard let text = SbatchRenderer.builtInTemplates[name] else {
                throw Failure.usage(
                    "there is no built-in template '\(name)'",
                    hint: "built-in templates: \(SbatchRenderer.builtInTemplates.keys.sorted().joined(separator: ", "))")
            }
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }
}
